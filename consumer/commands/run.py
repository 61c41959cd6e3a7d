"""``freshsales-destination run``: settings, logging and signals around the service."""

from __future__ import annotations

import asyncio
import signal
import sys

from consumer.errors import ConfigurationError
from consumer.logs import configure, get_logger
from consumer.service import Service
from consumer.settings import Settings

log = get_logger(__name__)


def run_service() -> int:
    """Exit status: 0 after a clean stop, 1 when delivery crashed, 2 for a configuration error."""
    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        print(f"freshsales-destination run: {exc}", file=sys.stderr)
        return 2
    configure(
        settings.log_level,
        settings.log_format,
        secrets=settings.secrets,
        hash_emails=settings.log_hash_emails,
        libraries=True,
    )
    return asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info(
        "starting",
        topic=settings.kafka_topic,
        group=settings.kafka_group_id,
        api_base=settings.api_base,
        flavor=settings.freshsales_flavor.value,
        max_in_flight=settings.max_in_flight,
    )
    try:
        return await Service(settings).run(stop)
    except ConfigurationError as exc:
        log.error("configuration_error", error=str(exc))
        return 2
