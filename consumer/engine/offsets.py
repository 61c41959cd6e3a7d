"""Which Kafka offset is safe to commit: pure bookkeeping, one tracker per partition.

Events of one partition finish out of order (different keys are delivered concurrently), but a
commit says "everything before this offset is done". The commit position is therefore the lowest
offset still unfinished, or one past the last fetched offset when nothing is pending. Offsets are
taken from the records actually fetched, not counted, because a partition can have gaps
(compaction, transaction markers).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass
class PartitionOffsets:
    """Offsets of one partition since it was assigned, starting at ``position``."""

    position: int
    """Commit position: every fetched offset below it is finished."""
    committed: int = -1
    """The last position handed to Kafka (-1: none yet in this assignment)."""
    revoked: bool = False
    """The partition went to another consumer: its unfinished work is abandoned."""
    # fetched, unfinished or finished out of order → finished?; in fetch (= offset) order
    _pending: OrderedDict[int, bool] = field(default_factory=OrderedDict, repr=False)
    _done_out_of_order: int = field(default=0, repr=False)
    _since: dict[int, float] = field(default_factory=dict, repr=False)

    def fetched(self, offset: int, at: float = 0.0) -> None:
        """A record was taken for delivery at time ``at``. Offsets must arrive in increasing
        order."""
        last = next(reversed(self._pending)) if self._pending else self.position - 1
        if offset <= last:
            raise ValueError(f"offset {offset} fetched after {last}: fetch order must increase")
        if not self._pending:
            # Nothing pending below it: a gap before it is finished by definition.
            self.position = offset
        self._pending[offset] = False
        self._since[offset] = at

    def finished(self, offset: int) -> None:
        """The record at ``offset`` is delivered, dead-lettered or deliberately skipped."""
        pending = self._pending
        if pending.get(offset) is not False:
            return  # finished twice, or not fetched in this assignment (revoked meanwhile)
        pending[offset] = True
        self._since.pop(offset, None)
        self._done_out_of_order += 1
        while pending:
            first, done = next(iter(pending.items()))
            if not done:
                self.position = first
                return
            pending.popitem(last=False)
            self._done_out_of_order -= 1
            self.position = first + 1

    @property
    def in_flight(self) -> int:
        """Records fetched and not yet finished."""
        return len(self._pending) - self._done_out_of_order

    @property
    def oldest_pending(self) -> int | None:
        """The lowest unfinished offset: the one holding the commit back."""
        return self.position if self.in_flight else None

    @property
    def oldest_fetched_at(self) -> float | None:
        """When the oldest unfinished record was fetched: how long the commit has been held."""
        return self._since.get(self.position) if self.in_flight else None

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
