"""Kafka for integration tests: one broker per session, a fresh topic and group per test.

The broker comes from ``sandbox.broker`` (an existing Kafka, testcontainers, or the embedded Tansu
broker). Fresh names per test keep tests independent and sidestep Tansu's phantom member of a
reused group; topics are deleted afterwards because Tansu never frees records otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from sandbox.broker import Broker
from sandbox.topics import create_topic, delete_topics, new_producer, own_topics


@dataclass(frozen=True)
class KafkaTopic:
    broker: Broker
    name: str
    partitions: int
    group_id: str

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers

    def producer(self, **options: Any) -> AIOKafkaProducer:
        return new_producer(self.bootstrap_servers, **options)

    def consumer(self, **options: Any) -> AIOKafkaConsumer:
        settings: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "group_id": self.group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            **self.broker.group_timeouts(),
        }
        settings.update(options)
        return AIOKafkaConsumer(**settings)


@asynccontextmanager
async def fresh_topic(broker: Broker, partitions: int = 3) -> AsyncIterator[KafkaTopic]:
    suffix = uuid.uuid4().hex[:12]
    topic = KafkaTopic(broker, f"test-{suffix}", partitions, f"group-{suffix}")
    await create_topic(broker.bootstrap_servers, topic.name, partitions)
    try:
        yield topic
    finally:
        # With the service's own topics: the embedded broker never frees them.
        await delete_topics(broker.bootstrap_servers, own_topics(topic.name, topic.group_id))
