"""An in-memory event source behind the engine's port (``consumer.engine.source.EventSource``).

Partitions are lists of records; a fetch returns what the unpaused, assigned partitions have past
their read positions, as a Kafka consumer does, and runs a scheduled rebalance first (Kafka calls
the rebalance listener from inside its fetch too). Commits are recorded and become the positions a
newly assigned partition starts from. What only a real broker shows (group coordination, restarts
of a process, the embedded broker's quirks) is tested against the broker, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson

from consumer.engine.source import Partition, Rebalancing, Record
from consumer.errors import BrokerError

TOPIC = "events"


@dataclass
class FakeSource:
    partitions: int = 1
    topic: str = TOPIC
    waiting_topic: str | None = None
    """A second topic the group reads (the service's waiting topic), when set."""
    waiting_partitions: int = 1
    logs: dict[Partition, list[Record]] = field(default_factory=dict)
    committed: dict[Partition, int] = field(default_factory=dict)
    commits: list[dict[Partition, int]] = field(default_factory=list)
    """Every commit, in order."""
    paused: set[Partition] = field(default_factory=set)
    fetches: int = 0
    fail_commits: bool = False
    rereads: list[tuple[int, int]] = field(default_factory=list)
    """(partition, offset) of every record read again."""
    stopped: bool = False
    _assigned: set[Partition] = field(default_factory=set)
    _positions: dict[Partition, int] = field(default_factory=dict)
    _fetched_once: set[Partition] = field(default_factory=set)
    _rebalancing: Rebalancing | None = None
    _pending: list[tuple[frozenset[Partition], frozenset[Partition]]] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        for number in range(self.partitions):
            self.logs.setdefault(Partition(self.topic, number), [])
        if self.waiting_topic is not None:
            for number in range(self.waiting_partitions):
                self.logs.setdefault(Partition(self.waiting_topic, number), [])
        # The first fetch joins the group and gets every partition.
        self._pending.append((frozenset(), frozenset(self.logs)))

    # --- what a test does -------------------------------------------------------------------

    def produce(
        self, value: bytes | dict[str, object], *, partition: int = 0, key: bytes | None = None
    ) -> Record:
        where = Partition(self.topic, partition)
        log = self.logs[where]
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        record = Record(self.topic, partition, len(log), key, raw, (), int(time.time() * 1000))
        log.append(record)
        self._arrived.set()
        return record

    def append(
        self,
        where: Partition,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: tuple[tuple[str, bytes | None], ...] = (),
    ) -> Record:
        """A record written to any partition the source knows (the waiting topic's)."""
        log = self.logs[where]
        stamp = int(time.time() * 1000)
        record = Record(where.topic, where.partition, len(log), key, value, headers, stamp)
        log.append(record)
        self._arrived.set()
        return record

    def rebalance(
        self, *, revoke: Iterable[int] = (), assign: Iterable[int] = (), topic: str | None = None
    ) -> None:
        """At the next fetch, take these partitions away, then give these (by number, of
        ``topic``: the events' by default)."""
        name = topic or self.topic
        self._pending.append(
            (
                frozenset(Partition(name, p) for p in revoke),
                frozenset(Partition(name, p) for p in assign),
            )
        )
        self._arrived.set()

    def rewind(self, partition: int, offset: int) -> None:
        """Read again from ``offset`` (a reset position): the records come a second time."""
        self._positions[Partition(self.topic, partition)] = offset
        self._arrived.set()

    def position_committed(self, partition: int = 0) -> int | None:
        return self.committed.get(Partition(self.topic, partition))

    # --- the port -----------------------------------------------------------------------------

    async def start(self, rebalancing: Rebalancing) -> None:
        self._rebalancing = rebalancing

    async def fetch(self, max_records: int, timeout_s: float) -> dict[Partition, list[Record]]:
        assert self._rebalancing is not None, "fetch before start"
        self.fetches += 1
        await self._apply_rebalances()
        batches = self._take(max_records)
        if not batches:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._arrived.wait()
            await self._apply_rebalances()
            batches = self._take(max_records)
        return batches

    def pause(self, partitions: Iterable[Partition]) -> None:
        self.paused |= set(partitions) & self._assigned

    def resume(self, partitions: Iterable[Partition]) -> None:
        self.paused -= set(partitions)
        self._arrived.set()

    def assignment(self) -> frozenset[Partition]:
        return frozenset(self._assigned)

    def partition_count(self) -> int | None:
        return sum(1 for p in self.logs if p.topic == self.topic)

    async def commit(self, positions: Mapping[Partition, int]) -> None:
        if self.fail_commits:
            raise BrokerError("commit: the group is rebalancing")
        self.commits.append(dict(positions))
        self.committed.update(positions)

    def high_watermark(self, partition: Partition) -> int | None:
        return len(self.logs[partition]) if partition in self._fetched_once else None

    async def reread(self, partition: Partition, offset: int) -> Record | None:
        self.rereads.append((partition.partition, offset))
        log = self.logs[partition]
        return log[offset] if 0 <= offset < len(log) else None

    async def stop(self) -> None:
        self.stopped = True

    # --- inside -------------------------------------------------------------------------------

    async def _apply_rebalances(self) -> None:
        assert self._rebalancing is not None
        while self._pending:
            revoke, assign = self._pending.pop(0)
            gone = revoke & self._assigned
            if gone:
                await self._rebalancing.revoked(frozenset(gone))
                self._assigned -= gone
                self.paused -= gone
            new = assign - self._assigned
            if new:
                self._assigned |= new
                for partition in new:
                    self._positions[partition] = self.committed.get(partition, 0)
                await self._rebalancing.assigned(frozenset(new))

    def _take(self, max_records: int) -> dict[Partition, list[Record]]:
        batches: dict[Partition, list[Record]] = {}
        room = max_records
        for partition in sorted(self._assigned - self.paused):
            if room <= 0:
                break
            self._fetched_once.add(partition)
            start = self._positions[partition]
            records = self.logs[partition][start : start + room]
            if records:
                batches[partition] = records
                self._positions[partition] = start + len(records)
                room -= len(records)
        return batches
