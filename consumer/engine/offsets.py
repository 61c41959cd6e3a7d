"""Which Kafka offset is safe to commit: pure bookkeeping, one tracker per partition.

Events of one partition finish out of order (different keys are delivered concurrently), but a
commit says "everything before this offset is done". The commit position is therefore the lowest
offset still unfinished, or one past the last fetched offset when nothing is pending. Offsets are
taken from the records actually fetched, not counted, because a partition can have gaps
(compaction, transaction markers).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
COMPACT_AFTER: Final = 4096
"""Finished entries kept at the front before the arrays are cut down."""


@dataclass
class PartitionOffsets:
    """Offsets of one partition since it was assigned, starting at ``position``."""

    position: int
    """Commit position: every fetched offset below it is finished."""
    committed: int = -1
    """The last position handed to Kafka (-1: none yet in this assignment)."""
    revoked: bool = False
    """The partition went to another consumer: its unfinished work is abandoned."""
    # The offsets fetched from ``position`` on, in fetch (= offset) order, with whether each is
    # finished and when it was fetched: flat arrays, about 17 bytes an offset, since a backlog
    # read far ahead holds hundreds of thousands of them.
    _offsets: array[int] = field(default_factory=lambda: array("q"), repr=False)
    _done: bytearray = field(default_factory=bytearray, repr=False)
    _at: array[float] = field(default_factory=lambda: array("d"), repr=False)
    _start: int = field(default=0, repr=False)
    """Entries before it are below ``position``: finished, kept until the next compaction."""
    _unfinished: int = field(default=0, repr=False)

    def fetched(self, offset: int, at: float = 0.0) -> None:
        """A record was taken for delivery at time ``at``. Offsets must arrive in increasing
        order."""
        last = self._offsets[-1] if len(self._offsets) > self._start else self.position - 1
        if offset <= last:
            raise ValueError(f"offset {offset} fetched after {last}: fetch order must increase")
        if len(self._offsets) == self._start:
            # Nothing pending below it: a gap before it is finished by definition.
            self.position = offset
        self._offsets.append(offset)
        self._done.append(0)
        self._at.append(at)
        self._unfinished += 1

    def finished(self, offset: int) -> None:
        """The record at ``offset`` is delivered, dead-lettered or deliberately skipped."""
        offsets = self._offsets
        index = bisect.bisect_left(offsets, offset, self._start)
        if index == len(offsets) or offsets[index] != offset or self._done[index]:
            return  # finished twice, or not fetched in this assignment (revoked meanwhile)
        self._done[index] = 1
        self._unfinished -= 1
        start, done = self._start, self._done
        while start < len(offsets) and done[start]:
            start += 1
        self._start = start
        self.position = offsets[start] if start < len(offsets) else offsets[-1] + 1
        if start > COMPACT_AFTER and start * 2 > len(offsets):
            del offsets[:start], done[:start], self._at[:start]
            self._start = 0

    @property
    def in_flight(self) -> int:
        """Records fetched and not yet finished."""
        return self._unfinished

    @property
    def oldest_pending(self) -> int | None:
        """The lowest unfinished offset: the one holding the commit back."""
        return self.position if self._unfinished else None

    @property
    def oldest_fetched_at(self) -> float | None:
        """When the oldest unfinished record was fetched: how long the commit has been held."""
        return self._at[self._start] if self._unfinished else None

    def to_commit(self) -> int | None:
        """The position to commit now, or None when Kafka already has it."""
        return self.position if self.position > self.committed else None

    def mark_committed(self, position: int) -> None:
        self.committed = max(self.committed, position)


class Offsets(Generic[K]):
    """Trackers for the partitions this consumer holds, keyed by topic-partition."""

    def __init__(self) -> None:
        self._partitions: dict[K, PartitionOffsets] = {}

    def assign(self, partition: K, position: int) -> None:
        """Start tracking at ``position``, which Kafka already holds (committed or reset)."""
        self._partitions[partition] = PartitionOffsets(position, committed=position)

    def revoke(self, partition: K) -> PartitionOffsets | None:
        tracker = self._partitions.pop(partition, None)
        if tracker is not None:
            tracker.revoked = True
        return tracker

    def __getitem__(self, partition: K) -> PartitionOffsets:
        return self._partitions[partition]

    def __contains__(self, partition: object) -> bool:
        return partition in self._partitions

    def __iter__(self) -> Iterator[K]:
        return iter(self._partitions)

    def to_commit(self) -> Mapping[K, int]:
        """Every partition whose commit position moved since its last commit."""
        return {
            tp: position
            for tp, tracker in self._partitions.items()
            if (position := tracker.to_commit()) is not None
        }

    def mark_committed(self, positions: Mapping[K, int]) -> None:
        for tp, position in positions.items():
            tracker = self._partitions.get(tp)
            if tracker is not None:
                tracker.mark_committed(position)

    @property
    def in_flight(self) -> int:
        return sum(t.in_flight for t in self._partitions.values())
