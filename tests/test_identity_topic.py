"""The identity topic on a real broker: what one replica writes, every other reads into the same
map; writes asked at once go as few records; a snapshot bounds what a restart reads; a record
this version cannot read is skipped, not a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition

from consumer.identity.book import Book
from consumer.identity.entries import PersonEntry
from consumer.kafka.identities import IdentityTopic
from tests.kafka_support import KafkaTopic
from translate import email_key, id_key


def person(n: int) -> PersonEntry:
    return PersonEntry(
        n, False, None, None, (email_key(f"user{n}@example.org"),), (id_key(f"a{n}"),)
    )


@asynccontextmanager
async def replica(
    topic: KafkaTopic, *, leads: bool = False, snapshot_min: int = 50_000
) -> AsyncIterator[IdentityTopic]:
    producer = topic.producer()
    await producer.start()
    identities = IdentityTopic(
        f"{topic.group_id}.identities",
        Book(),
        producer,
        {"bootstrap_servers": topic.bootstrap_servers},
        checkpoint_group=f"{topic.group_id}.identities-checkpoint",
        leads=lambda: leads,
        snapshot_min=snapshot_min,
    )
    try:
        await identities.start()
        yield identities
    finally:
        await identities.stop()
        await producer.stop()


async def records_in(topic: KafkaTopic, name: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=topic.bootstrap_servers)
    await consumer.start()
    try:
        tp = TopicPartition(name, 0)
        end: int = (await consumer.end_offsets([tp]))[tp]
        return end
    finally:
        await consumer.stop()


async def until(condition: object, limit_s: float = 20.0) -> None:
    assert callable(condition)
    async with asyncio.timeout(limit_s):
        while not condition():
            await asyncio.sleep(0.05)


async def test_writes_asked_at_once_go_as_few_records_and_another_replica_reads_them_all(
    kafka_topic: KafkaTopic,
) -> None:
    async with replica(kafka_topic) as writer, replica(kafka_topic) as reader:
        entries = [person(n) for n in range(300)]
        for entry in entries:
            writer.book.apply(entry)
        before = await records_in(kafka_topic, writer.topic)
        await asyncio.gather(*(writer.write([entry]) for entry in entries))
        written = await records_in(kafka_topic, writer.topic) - before
        await until(lambda: len(reader.book) == 300)
        found = reader.book.find([email_key("user299@example.org")])
    assert 1 <= written <= 30  # one on its way, the rest together behind it
    assert found is not None
    assert found.id == 299
    assert list(found.identities()) == [email_key("user299@example.org"), id_key("a299")]


async def test_a_snapshot_bounds_what_a_restart_reads_and_loses_nobody(
    kafka_topic: KafkaTopic,
) -> None:
    # 20 people, each written 5 times (a record each, one after the other): past twice the
    # people, the replica that leads restates the map and stores where it began.
    async with replica(kafka_topic, leads=True, snapshot_min=20) as first:
        for _ in range(5):
            for n in range(20):
                first.book.apply(person(n))
                await first.write([person(n)])
        await until(lambda: first.snapshots >= 1)
    async with replica(kafka_topic) as restarted:
        loaded, people = restarted.loaded, len(restarted.book)
        found = restarted.book.find([id_key("a19")])
    assert people == 20
    assert found is not None
    assert found.id == 19
    # From the checkpoint: the snapshot's 20 and what followed it, not the 100 before it.
    assert loaded < 100


async def test_a_record_this_version_cannot_read_is_skipped_and_counted(
    kafka_topic: KafkaTopic,
) -> None:
    name = f"{kafka_topic.group_id}.identities"
    async with replica(kafka_topic) as first:
        await first.write([person(1)])
        producer = kafka_topic.producer()
        await producer.start()
        try:
            await producer.send_and_wait(name, b'{"f": 9, "t": "person"}', partition=0)
        finally:
            await producer.stop()
        await first.write([person(2)])
    async with replica(kafka_topic) as restarted:
        assert len(restarted.book) == 2
        assert restarted.unreadable == 1
