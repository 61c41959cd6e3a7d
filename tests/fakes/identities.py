"""The identity topic and the waiting topic, in memory: what the engine writes to Kafka about
who people are and what waits for them."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from consumer.engine import parcel
from consumer.engine.source import Partition, Record
from consumer.errors import BrokerError
from consumer.identity.entries import Entry
from tests.fakes.source import FakeSource
from translate import Key

WAITING = "events.waiting"


@dataclass
class FakeIdentityLog:
    written: list[Entry] = field(default_factory=list)
    fails: int = 0
    """The next writes that fail (Kafka not answering)."""

    async def write(self, entries: Sequence[Entry]) -> None:
        if self.fails:
            self.fails -= 1
            raise BrokerError("identity topic: not answering")
        self.written.extend(entries)


@dataclass
class FakeWaitingLog:
    """Kept events go to the source's waiting-topic partitions, where the engine reads them
    back, as the consumer group does with the real topic."""

    source: FakeSource
    kept: list[Record] = field(default_factory=list)
    marks: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)

    @property
    def topic(self) -> str:
        assert self.source.waiting_topic is not None
        return self.source.waiting_topic

    async def keep(
        self,
        record: Record,
        keys: Sequence[Key],
        *,
        since_ms: int,
        kind: str,
        has_user: bool,
        message_id: str | None,
    ) -> None:
        key, value, headers = parcel.keep(
            record, keys, since_ms=since_ms, kind=kind, has_user=has_user, message_id=message_id
        )
        partitions = self.source.waiting_partitions
        where = Partition(self.topic, zlib.crc32(key) % partitions)
        self.kept.append(self.source.append(where, value, key=key, headers=headers))

    async def done(self, partition: int, key: Key, offsets: Sequence[int]) -> None:
        mark, value, headers = parcel.done(key, offsets)
        self.source.append(Partition(self.topic, partition), value, key=mark, headers=headers)
        self.marks.append((partition, tuple(offsets)))
