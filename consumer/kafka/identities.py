"""The identity topic: every person the deployment has delivered, and the identities that name
them, kept in Kafka — read whole at start-up, then followed, by every replica.

Each record states one person whole (``consumer.identity.entries``), so reading the topic in
order rebuilds the map exactly (``Book.apply``), on any replica, after any restart; nothing
depends on log compaction (the embedded broker has none), nor on deleting records.

Start-up time stays bounded without compaction: once the records since the last snapshot
outnumber twice the people, the replica that holds the source topic's first partition restates
the whole map as snapshot records, then stores where it began as the committed offset of its own
consumer group (``<group>.identities-checkpoint``, no members). Start-up reads from there — the
snapshot and whatever came after it. Without a checkpoint (the first run, or Kafka expired the
group's offsets after a long stop) it reads from the beginning: slower, never wrong.

Catching up is detected as the ledger does (``end_offsets`` is unreliable on the embedded
broker): a marker record is written and the reader has caught up when it reads it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from consumer.backoff import Backoff
from consumer.errors import BrokerError, BrokerRefused, ConfigurationError
from consumer.identity.book import Book
from consumer.identity.entries import MARKER_KEY, Entry, decode_all, encode_many
from consumer.kafka.boundary import kafka_errors
from consumer.kafka.topics import ensure_topic
from consumer.logs import get_logger

log = get_logger(__name__)
MARKER: Final = "fsd-identities-marker"
SNAPSHOT_MIN_RECORDS: Final = 50_000
"""A snapshot is due once the records since the last outnumber max(this, twice the people)."""
SNAPSHOT_BATCH: Final = 500
BATCH_MOST: Final = 500
"""Entries one record holds at most (a batch: what was asked to be written while the record
before it was on its way)."""
BATCH_BYTES: Final = 900_000
"""A batch record larger than this is split (the producer's max_request_size is 1 MB)."""
WRITE_BACKOFF: Final = Backoff(0.5, 30.0)


class IdentityTopic:
    def __init__(
        self,
        topic: str,
        book: Book,
        producer: AIOKafkaProducer,
        kafka: dict[str, Any],
        *,
        checkpoint_group: str,
        leads: Callable[[], bool] = lambda: False,
        snapshot_min: int = SNAPSHOT_MIN_RECORDS,
    ) -> None:
        """``kafka``: the connection settings; ``leads``: whether this replica is the one that
        writes snapshots now (it holds the source topic's first partition)."""
        self.topic = topic
        self.book = book
        self._producer = producer
        self._kafka = kafka
        self._group = checkpoint_group
        self._leads = leads
        self._snapshot_min = snapshot_min
        self._reader: AIOKafkaConsumer | None = None
        self._tail: asyncio.Task[None] | None = None
        self._snapshotting: asyncio.Task[None] | None = None
        self._marker = b""
        self._caught_up = asyncio.Event()
        self._queue: list[tuple[list[Entry], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.loaded = 0
        """Entries read at start-up (until caught up)."""
        self.load_s: float | None = None
        """How long reading them took."""
        self.since_checkpoint = 0
        """Entries read since the last checkpoint this replica knows of."""
        self.unreadable = 0
        self.snapshots = 0

    @property
    def ready(self) -> bool:
        return self._caught_up.is_set()

    async def start(self) -> None:
        """Read the map (from the last checkpoint) until caught up, then keep following it.
        Raises BrokerError while Kafka cannot be read (the caller retries), ConfigurationError
        when Kafka refuses the topic outright."""
        started = time.monotonic()
        try:
            with kafka_errors(f"identity topic {self.topic}"):
                await self._ensure_topic()
                tp, position = await self._open_reader()
                await self._write_marker()
        except BrokerRefused as exc:
            await self.stop()
            raise ConfigurationError(
                f"the identity topic {self.topic} cannot be used: {exc}; create it (1 partition,"
                " retention.ms=-1) or allow this user to (KAFKA_IDENTITY_TOPIC names it)"
            ) from None
        except BaseException:
            await self.stop()
            raise
        self._tail = asyncio.create_task(self._follow(tp))
        await self._caught_up.wait()
        self.load_s = time.monotonic() - started
        log.info(
            "identities_loaded",
            topic=self.topic,
            records=self.loaded,
            from_offset=position,
            people=len(self.book),
            identities=self.book.identities,
            seconds=round(self.load_s, 2),
        )

    async def write(self, entries: Sequence[Entry]) -> None:
        """Append ``entries``; returns once Kafka has them all. Retries while Kafka cannot take
        them: the events that taught them keep their offsets open meanwhile.

        One record is on its way at a time, in order; what is asked meanwhile goes together in
        the next (``encode_many``), so that under load a record states many people and reading
        the topic back costs one record for them, not one each."""
        if not entries:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((list(entries), done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        await done

    async def _write_queued(self) -> None:
        while self._queue:
            batch: list[Entry] = []
            waiting: list[asyncio.Future[None]] = []
            while self._queue and (not batch or len(batch) + len(self._queue[0][0]) <= BATCH_MOST):
                entries, done = self._queue.pop(0)
                batch += entries
                waiting.append(done)
            await self._send(batch)
            for done in waiting:
                if not done.done():
                    done.set_result(None)

    async def _send(self, batch: list[Entry]) -> None:
        key, value = encode_many(batch)
        if len(value) > BATCH_BYTES and len(batch) > 1:
            middle = len(batch) // 2
            await self._send(batch[:middle])
            await self._send(batch[middle:])
            return
        delays = WRITE_BACKOFF.delays()
        while True:
            try:
                with kafka_errors(f"identity topic {self.topic}"):
                    await self._producer.send_and_wait(
                        self.topic, value=value, key=key, partition=0
                    )
                return
            except BrokerError as exc:
                delay = next(delays)
                log.warning(
                    "identity_write_retrying", topic=self.topic, error=str(exc), delay_s=delay
                )
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        for task in (self._snapshotting, self._tail, self._writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, BrokerError):
                    await task
        if self._reader is not None:
            with contextlib.suppress(BrokerError), kafka_errors("closing the identity reader"):
                await self._reader.stop()
        self._tail = self._reader = self._snapshotting = self._writer = None

    async def _ensure_topic(self) -> None:
        # One partition: one order for every replica to read the records in. Kept forever: a
        # person identified two years ago still sends events today.
        configs = {"retention.ms": "-1", "cleanup.policy": "delete"}
        admin = partial(AIOKafkaAdminClient, **self._kafka)
        if await ensure_topic(admin, self.topic, 1, configs=configs) is not None:
            log.info("identity_topic_created", topic=self.topic)

    async def _open_reader(self) -> tuple[TopicPartition, int]:
        reader = self._reader = AIOKafkaConsumer(
            **self._kafka,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await reader.start()
        await reader.topics()
        tp = TopicPartition(self.topic, 0)
        reader.assign([tp])
        checkpoint = await reader.committed(tp)
        if checkpoint is None:
            await reader.seek_to_beginning(tp)
            return tp, 0
        reader.seek(tp, checkpoint)
        return tp, checkpoint

    async def _write_marker(self) -> None:
        self._marker = uuid.uuid4().hex.encode()
        await self._producer.send_and_wait(
            self.topic, value=b"", key=MARKER_KEY, partition=0, headers=[(MARKER, self._marker)]
        )

    async def _follow(self, tp: TopicPartition) -> None:
        assert self._reader is not None
        pause = Backoff(1.0, 1.0)
        failures = 0
        while True:
            try:
                with kafka_errors(f"reading the identity topic {self.topic}"):
                    batches = await self._reader.getmany(tp, timeout_ms=1000, max_records=5000)
            except BrokerError as exc:
                failures += 1
                log.warning("identities_read_failed", topic=self.topic, error=str(exc))
                await asyncio.sleep(pause.delay_s(failures))
                continue
            failures = 0
            for record in batches.get(tp, ()):
                self._read(record)
            if self._caught_up.is_set() and self._snapshot_due():
                self._snapshotting = asyncio.create_task(self._snapshot(tp))

    def _read(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.key == MARKER_KEY:
            if not self._caught_up.is_set():
                self.loaded += 1
            if dict(record.headers).get(MARKER) == self._marker:
                self._caught_up.set()
            return
        entries, problems = decode_all(record.value)
        for problem in problems:
            self.unreadable += 1
            log.warning("identity_record_unreadable", offset=record.offset, error=str(problem))
        self.since_checkpoint += len(entries)
        if not self._caught_up.is_set():
            self.loaded += len(entries) + len(problems)
        for entry in entries:
            self.book.apply(entry)

    def _snapshot_due(self) -> bool:
        busy = self._snapshotting is not None and not self._snapshotting.done()
        people = len(self.book) + self.book.pending_aliases
        limit = max(self._snapshot_min, 2 * people)
        return not busy and self.since_checkpoint > limit and self._leads()

    async def _snapshot(self, tp: TopicPartition) -> None:
        """Restate the map, then move the checkpoint to where this replica had read: everything
        before it is in the snapshot, everything after it is read after the checkpoint."""
        assert self._reader is not None
        with kafka_errors("reading the identity topic's position"):
            position = await self._reader.position(tp)
        written = 0
        try:
            batch: list[Entry] = []
            for entry in self.book.snapshot():
                batch.append(entry)
                if len(batch) >= SNAPSHOT_BATCH:
                    await self.write(batch)
                    written += len(batch)
                    batch = []
            await self.write(batch)
            written += len(batch)
            with kafka_errors("storing the identity checkpoint"):
                await self._reader.commit({tp: position})
        except BrokerError as exc:
            log.warning("identity_snapshot_failed", topic=self.topic, error=str(exc))
            return
        self.since_checkpoint = written
        self.snapshots += 1
        log.info("identity_snapshot", topic=self.topic, records=written, checkpoint=position)
