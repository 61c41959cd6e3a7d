"""``check``'s sample of recent source events, partition by partition: where to start reading,
when a partition is read, and which of its records are the latest. Pure bookkeeping; the reading
itself is ``consumer.commands.check.kafka.recent_values``.

A partition is read when the reader has reached the end it had when first seen. That end comes
with a fetch (its high watermark), the one figure right on every broker: ``end_offsets()`` is only
a first guess, too low on the embedded broker. An empty fetch says nothing: the embedded broker
answers the first one empty although the records are there.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Reading:
    """One partition's part of the sample: its latest ``share`` records."""

    first: int
    """The partition's first offset."""
    share: int
    next: int
    """The next offset to read."""
    end: int | None = None
    """Where the partition ended when a fetch first said so; None until then."""
    taken: list[tuple[int, bytes]] = field(default_factory=list)

    @classmethod
    def starting(cls, first: int, end_guess: int, share: int) -> Reading:
        """Start ``share`` records before the guessed end (never before the first offset)."""
        return cls(first, share, max(first, end_guess - share))

    def took(self, offset: int, value: bytes | None) -> None:
        if value is not None and (self.end is None or offset < self.end):
            self.taken.append((offset, value))
        self.next = max(self.next, offset + 1)

    def ends_at(self, highwater: int | None) -> int | None:
        """Learn the partition's end from a fetch (None: not known yet). Returns the offset to
        read from instead when the guess started reading too early; None to read on."""
        if highwater is None or self.end is not None:
            return None
        self.end = highwater
        start = max(self.first, highwater - self.share)
        if self.next >= start:
            return None
        self.next = start
        return start

    @property
    def done(self) -> bool:
        return self.end is not None and self.next >= self.end

    def latest(self) -> list[bytes]:
        """The values read of the partition's latest ``share`` records, oldest first."""
        end = self.next if self.end is None else self.end
        return [value for offset, value in self.taken if end - self.share <= offset < end]
