"""The unit of work the dispatcher carries: a fetched record and what translation made of it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from consumer.engine.offsets import PartitionOffsets
from consumer.engine.source import Record
from translate import Translation, TranslationError


@dataclass(slots=True)
class Work:
    record: Record
    tracker: PartitionOffsets
    key: str
    translation: Translation | None
    error: TranslationError | None
    fetched_at: float = field(default_factory=time.monotonic)
    event: Mapping[str, object] | None = None
    """The decoded event, kept for identifies only: folding merges them."""
    received: datetime | None = None
    """The record's timestamp: dates an event that carries none of its own."""
    absorbed: list[Work] = field(default_factory=list)
    """Events folded into this one: their offsets finish with it."""
    original: Translation | None = None
    """This event's own translation, when ``translation`` is the folded one."""

    def all_sources(self) -> list[Work]:
        return [self, *self.absorbed]
