"""The engine's seam to the event source: what the fetch loop needs of Kafka, and nothing more.

The engine fetches records, pauses and resumes fetching, asks which partitions it holds (of how
many) and where they end, commits positions, and now and then reads one record again;
partitions come and go through the ``Rebalancing`` callbacks, which the source calls from inside
``fetch`` (as a Kafka consumer group does). The aiokafka adapter (``consumer.kafka.source``) is
the real implementation; tests drive the engine with an in-memory one, so per-key order,
commits, pauses, dead letters and shutdown are tested without a broker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

Headers = tuple[tuple[str, bytes | None], ...]


class Partition(NamedTuple):
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Record:
    """A fetched record, as consumed: dead letters carry its key, value and headers unchanged."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_ms: int | None = None
    """When the producer (or the broker) stamped it; dates an event that carries no time."""


class Rebalancing(Protocol):
    """The engine's side of a rebalance: finish or give up the leaving partitions' work first."""

    async def revoked(self, partitions: frozenset[Partition]) -> None: ...

    async def assigned(self, partitions: frozenset[Partition]) -> None: ...


class EventSource(Protocol):
    async def start(self, rebalancing: Rebalancing) -> None:
        """Join the group (waiting for a broker that is not up yet)."""

    async def fetch(
        self, max_records: int, timeout_s: float
    ) -> Mapping[Partition, Sequence[Record]]:
        """Records of unpaused partitions, in offset order per partition; empty after
        ``timeout_s`` without any. Rebalance callbacks run in here."""

    def pause(self, partitions: Iterable[Partition]) -> None: ...

    def resume(self, partitions: Iterable[Partition]) -> None: ...

    def assignment(self) -> frozenset[Partition]: ...

    def partition_count(self) -> int | None:
        """How many partitions the topic has (what this consumer's assignment is a part of);
        None before the consumer has its metadata."""

    async def commit(self, positions: Mapping[Partition, int]) -> None:
        """Store each partition's next position to read; raises BrokerError when refused."""

    def high_watermark(self, partition: Partition) -> int | None:
        """One past the partition's last record, as of the latest fetch; None before one."""

    async def reread(self, partition: Partition, offset: int) -> Record | None:
        """The record at ``offset`` once more (a folded event to dead-letter on its own, whose
        bytes were not kept); None when the topic no longer has it. Raises BrokerError."""

    async def stop(self) -> None:
        """Leave the group; nothing is committed here."""
