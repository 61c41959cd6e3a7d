"""Topics and records on the local broker, for the demo, tests and benchmarks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import RecordMetadata


def new_producer(bootstrap_servers: str, **options: Any) -> AIOKafkaProducer:
    # acks=0 and the idempotent producer are broken on Tansu (it cannot initialise them).
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=False, **options
    )


async def create_topic(bootstrap_servers: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def delete_topics(bootstrap_servers: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


def own_topics(topic: str, group_id: str) -> list[str]:
    """The source topic and the topics the service makes for it under their default names:
    dead letters, the delivered ledger, the identity map, the waiting events."""
    return [
        topic,
        f"{topic}.dlq",
        f"{group_id}.delivered",
        f"{group_id}.identities",
        f"{group_id}.waiting",
    ]


async def produce(
    bootstrap_servers: str, topic: str, records: Iterable[tuple[bytes | None, bytes]]
) -> list[RecordMetadata]:
    """Send ``(key, value)`` records, pipelined, and wait until the broker has all of them."""
    producer = new_producer(bootstrap_servers)
    await producer.start()
    try:
        sent = [await producer.send(topic, value=value, key=key) for key, value in records]
        return list(await asyncio.gather(*sent))
    finally:
        await producer.stop()


def user_key(event: bytes) -> bytes | None:
    """The record key Segment's Kafka sources use: the userId, else the anonymousId."""
    try:
        value = orjson.loads(event)
    except orjson.JSONDecodeError:
        return None
    user = value.get("userId") or value.get("anonymousId") if isinstance(value, dict) else None
    return str(user).encode() if user else None


async def produce_events(
    bootstrap_servers: str, topic: str, events: list[bytes], partitions: int = 3
) -> list[RecordMetadata]:
    """Send events keyed by user, creating the topic first when it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    return await produce(bootstrap_servers, topic, [(user_key(e), e) for e in events])
