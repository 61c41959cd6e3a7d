"""The unit of work the dispatcher carries: a fetched record and what translation made of it, and
the events folded into it while it waited."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from consumer.engine.offsets import PartitionOffsets
from consumer.engine.source import Record
from translate import Key, Request, Translation, TranslationError
from translate.digest import SEPARATOR as _SEPARATOR
from translate.digest import Line


@dataclass(slots=True)
class Member:
    """One event a folded work stands for, kept as little as it can be — a few hundred bytes
    while hundreds of thousands wait: its offset, its messageId, its type and (an activity) the
    parts of its digest line. Its record is read again from the source only if it must go, or be
    dead-lettered, on its own."""

    offset: int
    message_id: str | None
    type: str
    text: str | None = None
    """An activity's line in a digest's notes without its messageId, which is kept once, above
    (None: an identify)."""
    title: str = ""
    stage: str | None = None
    user: bool = False
    """A waiting event that carries a userId (dead-lettered, not merely expired, at the end of
    its wait)."""
    since_ms: int = 0
    """A waiting event: when it began to wait."""

    @classmethod
    def of_line(cls, offset: int, line: Line) -> Member:
        text = line.text
        if line.message_id is not None:
            text = text.removesuffix(_mid_part(line.message_id))
        return cls(offset, line.message_id, line.kind, text, line.title, line.stage)

    @property
    def line(self) -> Line | None:
        if self.text is None:
            return None
        at = self.text.partition(_SEPARATOR)[0]
        text = self.text if self.message_id is None else self.text + _mid_part(self.message_id)
        return Line(self.type, at, self.title, text, self.message_id, self.stage)


def _mid_part(message_id: str) -> str:
    return f"{_SEPARATOR}messageId: {message_id}"


NAMED, OVER, FORGOTTEN = "named", "over", "forgotten"


@dataclass(frozen=True, slots=True)
class Wake:
    """Work the waiting room made: the events waiting under ``key`` go — to their person, now
    named (``NAMED``); nowhere, their wait over (``OVER``: expired, or dead-lettered when they
    carry a userId); or nowhere, their person asked to be forgotten (``FORGOTTEN``: discarded,
    counted suppressed). Its members are their offsets in the waiting topic."""

    key: Key
    why: str = NAMED


@dataclass(slots=True)
class Work:
    record: Record
    tracker: PartitionOffsets
    key: str
    translation: Translation | None
    error: TranslationError | None
    fetched_at: float = field(default_factory=time.monotonic)
    event: Mapping[str, object] | None = None
    """The decoded event, kept for identifies only (merged so far, when folded)."""
    received: datetime | None = None
    """The record's timestamp: dates an event that carries none of its own."""
    line: Line | None = None
    """An activity that could join a digest: its line there."""
    members: list[Member] = field(default_factory=list)
    """Folded: every event this work stands for, itself first. Empty: just itself."""
    person: Request | None = None
    """A folded digest: the first request of its events that finds the person."""
    chars: int = 0
    """A folded digest: characters of notes so far."""
    original: Translation | None = None
    """Folded: the first event's own translation (``translation`` stands for them all)."""
    wake: Wake | None = None
    """Events of the waiting topic whose person turned up, or whose wait is over."""

    @property
    def size(self) -> int:
        """How many events this work stands for."""
        return len(self.members) or 1
