"""The unit of work the dispatcher carries (a fetched record and its translation), and the
counters of what became of the work."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from consumer.engine.latency import Latency
from consumer.engine.offsets import PartitionOffsets
from consumer.kafka.deadletters import Source
from translate import Translation, TranslationError


@dataclass(slots=True)
class Work:
    """A fetched record and what translation made of it."""

    source: Source
    tracker: PartitionOffsets
    key: str
    translation: Translation | None
    error: TranslationError | None
    fetched_at: float = field(default_factory=time.monotonic)
    event: Mapping[str, object] | None = None
    """The decoded event, kept for identifies only: coalescing merges them."""
    received: datetime | None = None
    """The record's timestamp: dates an event that carries none of its own."""
    absorbed: list[Work] = field(default_factory=list)
    """Identifies merged into this one: their offsets finish with it."""
    original: Translation | None = None
    """This event's own translation, when ``translation`` is the merged one."""

    def all_sources(self) -> list[Work]:
        return [self, *self.absorbed]


@dataclass
class Stats:
    """Counters the demo prints and the metrics module exports."""

    outcomes: Counter[str] = field(default_factory=Counter)
    by_type: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(event type, outcome) → events; the type is "invalid" when the event has none."""
    dead_letters: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    calls_saved: int = 0
    """Person look-ups the identity cache answered."""
    unchanged: int = 0
    """Upserts skipped because the same write was delivered recently."""
    retries: int = 0
    latency: Latency = field(default_factory=Latency)

    @property
    def finished(self) -> int:
        return sum(self.outcomes.values())

    @property
    def calls_per_event(self) -> float:
        """Freshsales calls per finished event; 1 until events have finished (the common cost:
        a known person's activity, or a changed identify)."""
        finished = self.finished
        return self.calls / finished if finished else 1.0
