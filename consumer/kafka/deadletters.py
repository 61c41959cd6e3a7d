"""Dead letters: the original record, untouched, plus headers that say why and where it came from.

The key, value and original headers are kept byte for byte so that ``dlq replay`` can re-publish
exactly what was consumed. Our headers carry the ``fsd-`` prefix; a letter that is dead-lettered
again (after a replay) gets fresh ones, not two sets — except ``fsd-replay-count``, which the
replay set and the new letter keeps, so that a replay counts on from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from consumer.errors import FreshsalesError
from consumer.freshsales.answers import excerpt
from translate import DestinationError, Reason, TranslationError

PREFIX: Final = "fsd-"
REPLAY_COUNT: Final = "replay-count"  # set by ``dlq replay``; survives into the next letter
Headers = list[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class Source:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]


def letter_headers(
    source: Source,
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
