"""Starting a Kafka client: wait for a broker that is not up yet, refuse settings that cannot work.

On Kubernetes and in compose the service often starts before Kafka answers: that is waited out
(with a growing pause, watching ``stop``), not turned into a crash loop. A broker that answers
and refuses the settings (a SASL mechanism it does not offer, bad credentials) will refuse them
again: that is a configuration error, exit 2, with aiokafka's reason and no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from consumer.backoff import Backoff
from consumer.errors import BrokerError, ConfigurationError
from consumer.kafka.boundary import kafka_errors
from consumer.logs import get_logger

log = get_logger(__name__)
MAX_PAUSE_S = 30.0


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


C = TypeVar("C", bound=Startable)


async def started(
    make: Callable[[], C],
    stop: asyncio.Event,
    what: str,
    unreachable: Callable[[str | None], None] | None = None,
) -> C | None:
    """A started client from ``make``; None when ``stop`` was set first. ``unreachable`` hears
    why each attempt failed, and None once one succeeds."""
    delays = Backoff(1.0, MAX_PAUSE_S).delays()
    while not stop.is_set():
        client = make()
        try:
            with kafka_errors(f"starting the {what}"):
                await client.start()
        except BrokerError as exc:
            with contextlib.suppress(Exception):
                await client.stop()
            if not exc.retriable:
                raise ConfigurationError(
                    f"Kafka refused the {what}: {exc.__cause__!r}; check KAFKA_BOOTSTRAP_SERVERS,"
                    " KAFKA_SECURITY_PROTOCOL and the KAFKA_SASL_* settings"
                ) from None
            pause = next(delays)
            log.error("kafka_unreachable", client=what, error=repr(exc.__cause__), retry_in_s=pause)
            if unreachable is not None:
                unreachable(str(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await stop.wait()
            continue
        if unreachable is not None:
            unreachable(None)
        return client
    return None


async def until_read(
    read: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    what: str,
    unreachable: Callable[[str | None], None] | None = None,
) -> bool:
    """Run ``read`` (a start-up read of one of the service's own topics) until it succeeds;
    False when ``stop`` was set first. Kafka not answering is waited out like a broker that is
    not up yet (``unreachable`` hears why, then None once it answers); a refusal for good is a
    ConfigurationError, raised."""
    delays = Backoff(1.0, MAX_PAUSE_S).delays()
    while not stop.is_set():
        reading = asyncio.ensure_future(read())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not reading.done():
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, BrokerError):
                await reading
            return False
        error = reading.exception()
        if error is None:
            if unreachable is not None:
                unreachable(None)
            return True
        if not isinstance(error, BrokerError) or not error.retriable:
            raise error
        pause = next(delays)
        log.error("kafka_unreachable", client=what, error=str(error), retry_in_s=pause)
        if unreachable is not None:
            unreachable(str(error))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(pause):
                await stop.wait()
    return False
