"""The engine's event source on Kafka: an aiokafka consumer in a group, with manual commits.

The adapter behind ``consumer.engine.source.EventSource``: aiokafka's records and partitions become
the engine's values, its rebalance listener calls the engine's ``Rebalancing``, and its errors
become ``BrokerError`` (``consumer.kafka.boundary``). Nothing here decides anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from consumer.engine.source import Partition, Rebalancing, Record
from consumer.kafka.boundary import kafka_errors

REREAD_TRIES = 5
"""Fetches of a second each before a record read again counts as gone."""
REREADERS = 4
"""Consumers that read records again, each one read at a time: a visitor's history reads a few
records from the waiting topic, and many visitors may sign up at once."""


class KafkaSource:
    def __init__(self, config: Mapping[str, Any], topic: str, *also: str) -> None:
        """``config``: the consumer's settings (``consumer.kafka.config.consumer_config``);
        ``also``: topics the group reads beside the events' (the waiting topic)."""
        self._config = dict(config)
        self._topic = topic
        self._also = also
        self._consumer: AIOKafkaConsumer | None = None
        self._rereaders: list[AIOKafkaConsumer] = []
        self._idle: asyncio.Queue[AIOKafkaConsumer] = asyncio.Queue()

    @property
    def _kafka(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("KafkaSource used before start()")
        return self._consumer

    async def start(self, rebalancing: Rebalancing) -> None:
        consumer = self._consumer = AIOKafkaConsumer(**self._config)
        consumer.subscribe([self._topic, *self._also], listener=_Listener(rebalancing))
        with kafka_errors(f"joining group {self._config.get('group_id')}"):
            await consumer.start()

    async def fetch(self, max_records: int, timeout_s: float) -> dict[Partition, list[Record]]:
        with kafka_errors(f"fetching from {self._topic}"):
            batches = await self._kafka.getmany(
                timeout_ms=round(timeout_s * 1000), max_records=max_records
            )
        return {
            Partition(tp.topic, tp.partition): [_record(r) for r in records]
            for tp, records in batches.items()
        }

    def pause(self, partitions: Iterable[Partition]) -> None:
        # Only what is assigned now: aiokafka refuses to pause a partition it does not hold.
        held = self._held(partitions)
        if held:
            self._kafka.pause(*held)

    def resume(self, partitions: Iterable[Partition]) -> None:
        held = self._held(partitions)
        if held:
            self._kafka.resume(*held)

    def assignment(self) -> frozenset[Partition]:
        if self._consumer is None:
            return frozenset()
        return frozenset(Partition(tp.topic, tp.partition) for tp in self._consumer.assignment())

    def partition_count(self) -> int | None:
        # From the consumer's cached metadata, which the group's assignment was made from.
        if self._consumer is None:
            return None
        partitions = self._consumer.partitions_for_topic(self._topic)
        return len(partitions) if partitions else None

    async def commit(self, positions: Mapping[Partition, int]) -> None:
        with kafka_errors("commit"):
            await self._kafka.commit({TopicPartition(*p): at for p, at in positions.items()})

    def high_watermark(self, partition: Partition) -> int | None:
        # ``highwater`` comes with each fetch and is right on every broker; ``end_offsets`` is
        # not, on the embedded one (it under-reports).
        if self._consumer is None:
            return None
        end: int | None = self._consumer.highwater(TopicPartition(*partition))
        return end

    async def reread(self, partition: Partition, offset: int) -> Record | None:
        # A consumer of its own, outside the group: seeking the group's consumer would move the
        # position every fetch reads from. One read at a time per consumer: a seek by another
        # task between this one's seek and its fetch would read the wrong record.
        with kafka_errors(f"reading {partition.topic}/{partition.partition}@{offset} again"):
            reader = await self._rereader()
            try:
                return await _read_at(reader, TopicPartition(*partition), offset)
            finally:
                self._idle.put_nowait(reader)

    async def _rereader(self) -> AIOKafkaConsumer:
        if self._idle.empty() and len(self._rereaders) < REREADERS:
            config = {k: v for k, v in self._config.items() if k != "group_id"}
            reader = AIOKafkaConsumer(**config, group_id=None)
            self._rereaders.append(reader)
            await reader.start()
            return reader
        return await self._idle.get()

    async def stop(self) -> None:
        for reader in self._rereaders:
            with kafka_errors("closing a re-reader"):
                await reader.stop()
        if self._consumer is not None:
            with kafka_errors("leaving the group"):
                await self._consumer.stop()

    def _held(self, partitions: Iterable[Partition]) -> Sequence[TopicPartition]:
        if self._consumer is None:
            return ()
        assigned = self._consumer.assignment()
        return [tp for p in partitions if (tp := TopicPartition(*p)) in assigned]


async def _read_at(reader: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> Record | None:
    reader.assign([tp])
    reader.seek(tp, offset)
    for _ in range(REREAD_TRIES):
        batches = await reader.getmany(tp, timeout_ms=1000, max_records=1)
        for r in batches.get(tp, ()):
            if r.offset != offset:
                return None  # compacted or gone: the next record came instead
            return _record(r)
    return None


def _record(r: ConsumerRecord[bytes, bytes]) -> Record:
    return Record(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers), r.timestamp)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, rebalancing: Rebalancing) -> None:
        self._rebalancing = rebalancing

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._rebalancing.revoked(frozenset(Partition(*tp) for tp in revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._rebalancing.assigned(frozenset(Partition(*tp) for tp in assigned))
