"""Starting a Kafka client: wait for a broker that is not up yet, refuse settings that cannot work.

On Kubernetes and in compose the service often starts before Kafka answers: that is waited out
(with a growing pause, watching ``stop``), not turned into a crash loop. A broker that answers
and refuses the settings (a SASL mechanism it does not offer, bad credentials) will refuse them
again: that is a configuration error, exit 2, with aiokafka's reason and no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Protocol, TypeVar

from aiokafka.errors import KafkaError, KafkaTimeoutError

from consumer.errors import ConfigurationError
from consumer.logs import get_logger

log = get_logger("consumer.kafka")
MAX_PAUSE_S = 30.0


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


C = TypeVar("C", bound=Startable)


async def started(make: Callable[[], C], stop: asyncio.Event, what: str) -> C | None:
    """A started client from ``make``; None when ``stop`` was set first."""
    pause = 1.0
    while not stop.is_set():
        client = make()
        try:
            await client.start()
        except KafkaError as exc:
            with contextlib.suppress(Exception):
                await client.stop()
            if not (exc.retriable or isinstance(exc, KafkaTimeoutError)):
                raise ConfigurationError(
                    f"Kafka refused the {what}: {exc!r}; check KAFKA_BOOTSTRAP_SERVERS,"
                    " KAFKA_SECURITY_PROTOCOL and the KAFKA_SASL_* settings"
                ) from None
            log.error("kafka_unreachable", client=what, error=repr(exc), retry_in_s=pause)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await stop.wait()
            pause = min(pause * 2, MAX_PAUSE_S)
            continue
        return client
    return None
