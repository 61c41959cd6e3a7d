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
REREAD_FETCH_BYTES = 64 * 1024
"""What a re-read fetches at most: it wants one record, and a fetch of the usual megabyte for
each of thousands of re-reads churned through hundreds of megabytes. A record larger than this
is read by a consumer fetching as much as the service's (``_large``)."""


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
        self._large: AIOKafkaConsumer | None = None
        self._large_lock = asyncio.Lock()

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
        tp = TopicPartition(*partition)
        with kafka_errors(f"reading {partition.topic}/{partition.partition}@{offset} again"):
            reader = await self._rereader()
            try:
                found = await _read_at(reader, tp, offset, tries=2)
            finally:
                self._idle.put_nowait(reader)
            if not isinstance(found, _Nothing):
                return found
            # Nothing came: on some brokers a record larger than a fetch never comes.
            async with self._large_lock:
                if self._large is None:
                    self._large = self._reader(self._config["max_partition_fetch_bytes"])
                    await self._large.start()
                found = await _read_at(self._large, tp, offset, tries=REREAD_TRIES)
            return None if isinstance(found, _Nothing) else found

    async def _rereader(self) -> AIOKafkaConsumer:
        if self._idle.empty() and len(self._rereaders) < REREADERS:
            reader = self._reader(REREAD_FETCH_BYTES)
            self._rereaders.append(reader)
            await reader.start()
            return reader
        return await self._idle.get()

    def _reader(self, most: int) -> AIOKafkaConsumer:
        config = {k: v for k, v in self._config.items() if k != "group_id"}
        config["max_partition_fetch_bytes"] = most
        return AIOKafkaConsumer(**config, group_id=None, fetch_max_bytes=most)

    async def stop(self) -> None:
        for reader in [*self._rereaders, *([self._large] if self._large else [])]:
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


class _Nothing:
    """No record came at all (as opposed to another one: the one asked for is gone)."""


_NOTHING = _Nothing()


async def _read_at(
    reader: AIOKafkaConsumer, tp: TopicPartition, offset: int, *, tries: int
) -> Record | _Nothing | None:
    if reader.assignment() != {tp}:
        reader.assign([tp])
    reader.seek(tp, offset)
    for _ in range(tries):
        batches = await reader.getmany(tp, timeout_ms=1000, max_records=1)
        for r in batches.get(tp, ()):
            if r.offset != offset:
                return None  # compacted or gone: the next record came instead
            return _record(r)
    return _NOTHING


def _record(r: ConsumerRecord[bytes, bytes]) -> Record:
    return Record(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers), r.timestamp)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, rebalancing: Rebalancing) -> None:
        self._rebalancing = rebalancing

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._rebalancing.revoked(frozenset(Partition(*tp) for tp in revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._rebalancing.assigned(frozenset(Partition(*tp) for tp in assigned))
