"""The counters of what became of the work: the demo prints them, metrics and the quota line
export them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from consumer.engine.latency import Latency


@dataclass
class Stats:
    outcomes: Counter[str] = field(default_factory=Counter)
    by_type: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(event type, outcome) → events; the type is "invalid" when the event has none."""
    after_wait: Counter[str] = field(default_factory=Counter)
    """What became of events that waited for their person (``stitched``, ``expired``,
    ``dead_lettered``…); each was counted in ``outcomes`` once already, as ``waiting``."""
    dead_letters: Counter[str] = field(default_factory=Counter)
    forgets: Counter[str] = field(default_factory=Counter)
    """Deletion requests by outcome: forgotten, nobody_found, refused, failed, abandoned."""
    calls: int = 0
    lookups_saved: int = 0
    """Person look-ups the identity cache answered."""
    unchanged: int = 0
    """Upserts skipped because the same write was delivered recently."""
    retries: int = 0
    digests: int = 0
    """Digest activities delivered (each standing for two events or more)."""
    histories: int = 0
    """``Before sign-up`` activities delivered (a visitor's events that waited for them)."""
    latency: Latency = field(default_factory=Latency)
    new_people: Latency = field(default_factory=Latency)
    """From produce to Freshsales, for the identifies and groups of people not delivered yet."""

    @property
    def finished(self) -> int:
        return sum(self.outcomes.values())

    @property
    def events_per_call(self) -> float:
        """Finished events per Freshsales call (0 until a call was made)."""
        return self.finished / self.calls if self.calls else 0.0

    @property
    def calls_per_event(self) -> float:
        """Freshsales calls per finished event; 1 until events have finished (the common cost:
        a known person's activity, or a changed identify)."""
        finished = self.finished
        return self.calls / finished if finished else 1.0
