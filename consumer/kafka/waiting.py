"""The waiting topic: events of people not known yet, kept in Kafka while they wait.

The deliverer keeps an event here (``keep``) before its source offset may be committed, so a
crash of any replica at any moment loses nothing; the consumer group reads this topic beside the
source topic, and each partition's owner holds what waits there (``consumer.engine.waitroom``).
When kept events go, a mark says so (``done``), so that a restart does not bring them back.

Created when missing (as the ledger is): as many partitions as the source topic, so the work
spreads over the replicas alike, and a retention of twice the wait, so that nothing still
waiting is deleted even if the service is stopped for a while. Nothing depends on compaction
or on deleting records: what went is finished in the commit position, and the rest is read
again after a restart from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from consumer.engine import parcel
from consumer.engine.source import Record
from consumer.errors import BrokerRefused, ConfigurationError
from consumer.kafka.boundary import kafka_errors
from consumer.kafka.topics import ensure_topic
from consumer.logs import get_logger
from translate import Key

log = get_logger(__name__)
MIN_RETENTION_MS = 7 * 24 * 3600 * 1000


class WaitingTopic:
    def __init__(self, topic: str, producer: AIOKafkaProducer, kafka: dict[str, Any]) -> None:
        """``kafka``: the connection settings (``kafka_config.connection``)."""
        self._topic = topic
        self._producer = producer
        self._kafka = kafka

    @property
    def topic(self) -> str:
        return self._topic

    async def ensure(self, *, like: str, wait_s: float) -> None:
        """Create the topic when missing, with as many partitions as ``like`` (the source).
        Raises ConfigurationError when the broker refuses to create it."""
        retention_ms = max(MIN_RETENTION_MS, int(wait_s * 2000))
        configs = {"retention.ms": str(retention_ms), "cleanup.policy": "delete"}
        try:
            created = await ensure_topic(
                lambda: AIOKafkaAdminClient(**self._kafka),
                self._topic,
                1,
                like=like,
                configs=configs,
            )
        except BrokerRefused as exc:
            raise ConfigurationError(
                f"the waiting topic {self._topic} cannot be created: {exc}; create it (as many"
                " partitions as the source topic) or allow this user to (KAFKA_WAITING_TOPIC"
                " names it)"
            ) from None
        if created is not None:
            log.info(
                "waiting_topic_created",
                topic=self._topic,
                partitions=created.num_partitions,
                retention_ms=retention_ms,
            )

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
        with kafka_errors(f"waiting topic {self._topic}"):
            await self._producer.send_and_wait(
                self._topic, value=value, key=key, headers=list(headers)
            )

    async def done(self, partition: int, key: Key, offsets: Sequence[int]) -> None:
        mark, value, headers = parcel.done(key, offsets)
        with kafka_errors(f"waiting topic {self._topic}"):
            await self._producer.send_and_wait(
                self._topic, value=value, key=mark, partition=partition, headers=list(headers)
            )
