"""The delivered-activity ledger: messageIds in a Kafka topic, so a restart does not repeat them.

After a crash the service re-reads what was delivered but not yet committed. For identifies that
is harmless (an upsert is idempotent); a track or page would show twice on the person's timeline.
So before an activity's offset can be committed, its messageId is appended to the ledger topic
(key = messageId, empty value, ~60 bytes). At start-up the ledger's last window is read back
into ``SeenMessages`` before the first event is consumed, and while running the service keeps
reading it, so activities delivered by another replica (just before a rebalance) are known too.

Why a topic: it works on any Kafka and on the embedded broker (which stores commit metadata but
returns it empty, ruling out keeping finished offsets in the commit as Confluent's Parallel
Consumer does), needs no other storage, and its retention is the dedupe window.

Catching up is detected with a marker: the reader writes a unique record to each partition and
has caught up when it has read them all back (``end_offsets`` is unreliable on the embedded broker).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from functools import partial
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from consumer.backoff import Backoff
from consumer.engine.memory.seen import SeenMessages
from consumer.errors import BrokerError
from consumer.kafka.boundary import kafka_errors
from consumer.kafka.topics import ensure_topic
from consumer.logs import get_logger

log = get_logger(__name__)
MARKER: Final = "fsd-ledger-marker"
CATCH_UP_TIMEOUT_S: Final = 60.0


class Ledger:
    def __init__(
        self,
        topic: str,
        seen: SeenMessages,
        producer: AIOKafkaProducer,
        kafka: dict[str, Any],
    ) -> None:
        """``kafka``: the connection settings (``kafka_config.connection``)."""
        self.topic = topic
        self.seen = seen
        self._producer = producer
        self._kafka = kafka
        self._reader: AIOKafkaConsumer | None = None
        self._tail: asyncio.Task[None] | None = None
        self._waiting_for: set[int] = set()
        self._marker = b""
        self._caught_up = asyncio.Event()
        self.loaded = 0
        self.usable = False

    async def start(self, timeout_s: float = CATCH_UP_TIMEOUT_S) -> None:
        """Load the window's messageIds. A ledger that cannot be used is logged, not fatal: the
        service still de-duplicates within the run, and nothing is lost either way."""
        try:
            async with asyncio.timeout(timeout_s):
                with kafka_errors(f"ledger topic {self.topic}"):
                    await self._ensure_topic()
                    partitions = await self._open_reader()
                    await self._write_markers(partitions)
                self._tail = asyncio.create_task(self._follow())
                await self._caught_up.wait()
        except (BrokerError, TimeoutError, OSError) as exc:
            log.error(
                "ledger_unavailable",
                topic=self.topic,
                error=repr(exc),
                effect="track/page/screen delivered before a restart may be sent again after it",
            )
            await self.stop()
            return
        self.usable = True
        log.info("ledger_loaded", topic=self.topic, message_ids=self.loaded)

    async def record(self, message_id: str) -> None:
        if not self.usable:
            return
        with kafka_errors(f"ledger topic {self.topic}"):
            await self._producer.send_and_wait(self.topic, value=b"", key=message_id.encode())

    async def stop(self) -> None:
        if self._tail is not None:
            self._tail.cancel()
            with contextlib.suppress(asyncio.CancelledError, BrokerError):
                await self._tail
        if self._reader is not None:
            with contextlib.suppress(BrokerError), kafka_errors("closing the ledger reader"):
                await self._reader.stop()
        self._tail = self._reader = None

    async def _ensure_topic(self) -> None:
        retention_ms = int(max(self.seen.window_s, 3600) * 1000 * 2)
        configs = {"retention.ms": str(retention_ms), "cleanup.policy": "delete"}
        admin = partial(AIOKafkaAdminClient, **self._kafka)
        if await ensure_topic(admin, self.topic, 1, configs=configs) is not None:
            log.info("ledger_topic_created", topic=self.topic, retention_ms=retention_ms)

    async def _open_reader(self) -> list[int]:
        reader = self._reader = AIOKafkaConsumer(
            **self._kafka, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await reader.start()
        await reader.topics()  # fills the metadata of every topic
        partitions = sorted(reader.partitions_for_topic(self.topic) or ())
        if not partitions:
            raise BrokerError(f"ledger topic {self.topic} has no partitions")
        tps = [TopicPartition(self.topic, p) for p in partitions]
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        return partitions

    async def _write_markers(self, partitions: list[int]) -> None:
        self._marker = uuid.uuid4().hex.encode()
        self._waiting_for = set(partitions)
        for partition in partitions:
            await self._producer.send_and_wait(
                self.topic, value=b"", partition=partition, headers=[(MARKER, self._marker)]
            )

    async def _follow(self) -> None:
        assert self._reader is not None
        pause = Backoff(1.0, 1.0)  # the reader reconnects by itself: look again soon
        failures = 0
        while True:
            try:
                with kafka_errors(f"reading the ledger topic {self.topic}"):
                    batches = await self._reader.getmany(timeout_ms=1000, max_records=5000)
            except BrokerError as exc:
                failures += 1
                log.warning("ledger_read_failed", topic=self.topic, error=str(exc))
                await asyncio.sleep(pause.delay_s(failures))
                continue
            failures = 0
            for tp, records in batches.items():
                for record in records:
                    self._read(tp.partition, record)

    def _read(self, partition: int, record: ConsumerRecord[bytes, bytes]) -> None:
        if any(key == MARKER for key, _ in record.headers):
            if dict(record.headers).get(MARKER) == self._marker:
                self._waiting_for.discard(partition)
                if not self._waiting_for:
                    self._caught_up.set()
            return
        if not record.key:
            return
        at = record.timestamp / 1000 if record.timestamp and record.timestamp > 0 else time.time()
        self.seen.add(record.key.decode("utf-8", "replace"), at)
        self.loaded += 1
