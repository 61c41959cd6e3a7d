"""Dead letters: the original record, untouched, plus headers that say why and where it came from.

The key, value and original headers are kept byte for byte so that ``dlq replay`` can re-publish
exactly what was consumed. Our headers carry the ``fsd-`` prefix; a letter that is dead-lettered
again (after a replay) gets fresh ones, not two sets — except ``fsd-replay-count``, which the
replay set and the new letter keeps, so that a replay counts on from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Final, Literal

from consumer.backoff import Backoff
from consumer.engine.source import Record
from consumer.errors import BrokerError, FreshsalesError, OversizedRecord
from consumer.freshsales.answers import excerpt
from consumer.kafka.boundary import kafka_errors
from consumer.logs import get_logger
from translate import DestinationError, Reason, TranslationError

PREFIX: Final = "fsd-"
REPLAY_COUNT: Final = "replay-count"  # set by ``dlq replay``; survives into the next letter
Headers = list[tuple[str, bytes | None]]
Send = Callable[..., Awaitable[object]]
"""A producer's ``send_and_wait(topic, value=, key=, headers=)``."""
log = get_logger(__name__)


class DeadLetters:
    """Writes letters to the dead-letter topic: the engine's ``Letters``."""

    def __init__(self, send: Send, topic: str, backoff: Backoff = Backoff(0.5, 30.0)) -> None:
        self._send = send
        self.topic = topic
        self._backoff = backoff

    async def write(
        self, record: Record, reason: Reason, error: DestinationError, attempts: int
    ) -> None:
        headers = letter_headers(record, reason, error, attempts=attempts, at=datetime.now(UTC))
        value = record.value
        delays = self._backoff.delays()
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        while True:
            try:
                with kafka_errors(f"dead-letter topic {self.topic}"):
                    await self._send(self.topic, value=value, key=record.key, headers=headers)
                return
            except BrokerError as exc:
                if after_refusal(exc, value) == "without_value":
                    assert value is not None
                    log.warning(
                        "dead_letter_value_dropped", size=len(value), error=str(exc), **where
                    )
                    headers = [*headers, (PREFIX + "value-dropped", str(len(value)).encode())]
                    value = None
                    continue
                delay = next(delays)
                log.warning("dead_letter_retrying", error=str(exc), delay_s=delay, **where)
                await asyncio.sleep(delay)


def after_refusal(error: BrokerError, value: bytes | None) -> Literal["without_value", "retry"]:
    """A letter Kafka did not take: too large, it goes without the value (the original stays
    in the source topic at the offset the headers name); otherwise it is tried again, for as
    long as it takes — its offset stays open until Kafka has it, so nothing is lost."""
    if isinstance(error, OversizedRecord) and value is not None:
        return "without_value"
    return "retry"


def letter_headers(
    source: Record,
    reason: Reason,
    error: DestinationError | None,
    *,
    attempts: int,
    at: datetime,
) -> Headers:
    """The original headers (minus any earlier ``fsd-`` ones), then ours."""
    headers: Headers = [(k, v) for k, v in source.headers if not k.startswith(PREFIX)]
    ours: dict[str, str] = {
        "reason": reason.value,
        "error-class": type(error).__name__ if error is not None else "",
        "source-topic": source.topic,
        "source-partition": str(source.partition),
        "source-offset": str(source.offset),
        "attempts": str(attempts),
        "dead-lettered-at": at.isoformat(timespec="seconds"),
    }
    if isinstance(error, FreshsalesError):
        ours["status"] = str(error.status) if error.status is not None else ""
        ours["endpoint"] = error.endpoint
        ours["error"] = excerpt("; ".join(error.messages) or error.detail)
    elif isinstance(error, TranslationError):
        ours["error"] = excerpt(error.detail)
    headers += [(PREFIX + name, value.encode()) for name, value in ours.items()]
    replays = header(source.headers, REPLAY_COUNT)
    if replays is not None:
        headers.append((PREFIX + REPLAY_COUNT, replays.encode()))
    return headers


def header(headers: Sequence[tuple[str, bytes | None]], name: str) -> str | None:
    """One of our headers, decoded; None when absent."""
    for key, value in headers:
        if key == PREFIX + name and value is not None:
            return value.decode("utf-8", "replace")
    return None
