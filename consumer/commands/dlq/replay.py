"""``dlq replay``: re-publish selected dead letters to the topic their events came from.

The dead-letter topic is read without a consumer group, from the beginning of every partition to
its end as of the start of the command. No group: a replay is an operator's one-off action, and
stored offsets would make the next run silently skip letters it was asked to select; the service's
own group is never touched either. A fixed end: a replayed event that fails again is
dead-lettered again while the replay runs, and reading on would replay it again, in a loop.

The end of each partition is the high watermark its first fetch reports, taken for every
partition before anything is published. ``end_offsets()`` is not used: the embedded test broker
answers it with too-low values, while the fetch's high watermark is right on it and on Kafka
alike.

The DLQ itself is never modified (Kafka is append-only), so running the same replay twice
publishes the same events twice: the service's messageId de-duplication and idempotent upserts
keep Freshsales free of duplicates, but every replayed event costs quota again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import replace
from typing import Any, Final, TypeAlias

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from consumer.commands.dlq.selection import (
    Filters,
    Listed,
    Selection,
    Summary,
    Verdict,
    dead_lettered_at,
    destination,
    reason_of,
    replay_count,
    replay_headers,
)
from consumer.errors import BrokerError, ConfigurationError
from consumer.kafka.boundary import kafka_errors
from consumer.kafka.config import consumer_config, producer_config
from consumer.kafka.deadletters import header
from consumer.settings import Settings

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
SNAPSHOT_TIMEOUT_S: Final = 30.0  # every partition's end must be known within this
STALL_TIMEOUT_S: Final = 30.0  # no record for this long while short of the end: give up
WINDOW: Final = 500  # sends in flight before waiting for their acks (bounds memory)


Emit = Callable[[Listed], None]
Progress = Callable[[Summary], None]


async def replay(
    settings: Settings,
    filters: Filters,
    *,
    dry_run: bool,
    emit: Emit,
    progress: Progress | None = None,
    progress_every: int = 10_000,
    stop: asyncio.Event | None = None,
) -> Summary:
    """Replay (or with ``dry_run`` only list) the selected letters of ``settings.dlq_topic``.

    Raises ConfigurationError when the DLQ topic does not exist; every other failure is in the
    returned summary (``error``, ``failed``), next to what was done before it."""
    summary = Summary(settings.dlq_topic, dry_run)
    # No group: see the module docstring. Positions start at the beginning (auto_offset_reset).
    consumer = AIOKafkaConsumer(**{**consumer_config(settings), "group_id": None})
    producer = None if dry_run else AIOKafkaProducer(**producer_config(settings))
    publisher: _Publisher | None = None
    try:
        with kafka_errors(f"Kafka at {settings.kafka_bootstrap_servers}"):
            await consumer.start()
            topics = _Topics(consumer)
            if not await topics.exists(settings.dlq_topic):
                raise ConfigurationError(
                    f"KAFKA_DLQ_TOPIC: the dead-letter topic {settings.dlq_topic!r} does not"
                    f" exist on {settings.kafka_bootstrap_servers} (nothing was ever"
                    " dead-lettered there, or the variable names the wrong topic)"
                )
            if producer is not None:
                await producer.start()
                publisher = _Publisher(producer, summary, emit)
            selection = Selection(filters, summary)
            async with aclosing(_read_to_end(consumer, settings.dlq_topic, summary)) as records:
                async for record in records:
                    if stop is not None and stop.is_set():
                        summary.interrupted = True
                        break
                    if selection.offer(record.headers, record.timestamp) is Verdict.REPLAY:
                        topic = destination(record.headers, settings.kafka_topic)
                        listed = _listed(record, topic)
                        await _replay_one(record, listed, topics, publisher, emit, summary)
                        if summary.failed:
                            break  # Kafka refuses: stop rather than fail every later letter too
                    if progress is not None and not summary.scanned % progress_every:
                        progress(summary)
    except BrokerError as exc:
        summary.error = str(exc)
    finally:
        try:
            if publisher is not None:
                await publisher.flush()
        finally:
            await consumer.stop()
            if producer is not None:
                await producer.stop()
    return summary


async def _replay_one(
    record: Record,
    listed: Listed,
    topics: _Topics,
    publisher: _Publisher | None,
    emit: Emit,
    summary: Summary,
) -> None:
    if not await topics.exists(listed.topic):
        summary.missing_topics[listed.topic] += 1
        emit(replace(listed, action="missing_topic"))
    elif publisher is None:
        emit(listed)
    else:
        await publisher.send(record, listed)


def _listed(record: Record, topic: str) -> Listed:
    headers = record.headers
    return Listed(
        action="would_replay",
        dlq_partition=record.partition,
        dlq_offset=record.offset,
        reason=reason_of(headers),
        dead_lettered_at=dead_lettered_at(headers, record.timestamp),
        topic=topic,
        source_partition=header(headers, "source-partition"),
        source_offset=header(headers, "source-offset"),
        replay_count=replay_count(headers) + 1,
        message_id=_message_id(record.value),
        key=record.key,
    )


def _message_id(value: bytes | None) -> str | None:
    """For people matching the listing to their events; a letter need not be JSON at all."""
    try:
        event = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    message_id = event.get("messageId") if isinstance(event, dict) else None
    return message_id if isinstance(message_id, str) else None


class _Topics:
    """Which topics exist, from full metadata only: asking about one topic by name makes a
    broker with auto-creation (and the embedded one) create it, and a replay must report a
    missing source topic, not publish into a new empty one that nothing consumes."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._known: set[str] = set()
        self._missing: set[str] = set()

    async def exists(self, name: str) -> bool:
        if name in self._known:
            return True
        if name in self._missing:
            return False
        self._known = set(await self._consumer.topics())  # may have been created since
        if name not in self._known:
            self._missing.add(name)
        return name in self._known


async def _read_to_end(
    consumer: AIOKafkaConsumer, topic: str, summary: Summary
) -> AsyncGenerator[Record, None]:
    consumer.subscribe([topic])
    held: list[Record] = []
    try:
        async with asyncio.timeout(SNAPSHOT_TIMEOUT_S):
            while not _ends_known(consumer):
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    held += records
                # Only partitions still without an end keep fetching: ``held`` stays small.
                known = [tp for tp in consumer.assignment() if consumer.highwater(tp) is not None]
                consumer.pause(*known)
    except TimeoutError:
        raise BrokerError(
            f"{topic}: partition ends not reported within {SNAPSHOT_TIMEOUT_S:.0f} s"
        ) from None
    parts = sorted(consumer.assignment())
    consumer.resume(*parts)
    ends: dict[TopicPartition, int] = {tp: consumer.highwater(tp) for tp in parts}
    starts = await consumer.beginning_offsets(parts)
    summary.total = sum(max(ends[tp] - starts[tp], 0) for tp in parts)
    for record in held:
        if record.offset < ends[TopicPartition(record.topic, record.partition)]:
            yield record
    idle_since = asyncio.get_running_loop().time()
    while True:
        open_parts = [tp for tp in parts if await consumer.position(tp) < ends[tp]]
        if not open_parts:
            return
        consumer.pause(*(tp for tp in parts if tp not in open_parts))
        batch = await consumer.getmany(*open_parts, timeout_ms=500)
        now = asyncio.get_running_loop().time()
        if batch:
            idle_since = now
        elif now - idle_since > STALL_TIMEOUT_S:
            stuck = [f"{tp.partition}@{await consumer.position(tp)}" for tp in open_parts]
            raise BrokerError(
                f"{topic}: no records for {STALL_TIMEOUT_S:.0f} s short of the end"
                f" (partition@position: {', '.join(stuck)})"
            )
        for tp, records in batch.items():
            for record in records:
                if record.offset < ends[tp]:
                    yield record


def _ends_known(consumer: AIOKafkaConsumer) -> bool:
    parts = consumer.assignment()
    return bool(parts) and all(consumer.highwater(tp) is not None for tp in parts)


class _Publisher:
    """Pipelined sends, acknowledged in windows; a letter counts as replayed once Kafka acked it."""

    def __init__(self, producer: AIOKafkaProducer, summary: Summary, emit: Emit) -> None:
        self._producer = producer
        self._summary = summary
        self._emit = emit
        self._pending: list[tuple[Listed, asyncio.Future[Any]]] = []

    async def send(self, record: Record, listed: Listed) -> None:
        try:
            with kafka_errors(f"publishing to {listed.topic}"):
                ack = await self._producer.send(
                    listed.topic,
                    value=record.value,
                    key=record.key,
                    headers=replay_headers(record.headers),
                )
        except BrokerError as exc:
            self._failed(listed, exc)
            return
        self._pending.append((listed, ack))
        if len(self._pending) >= WINDOW:
            await self.flush()

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        results = await asyncio.gather(*(ack for _, ack in pending), return_exceptions=True)
        for (listed, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                self._failed(listed, result)
            else:
                self._summary.replayed += 1
                self._emit(replace(listed, action="replayed"))

    def _failed(self, listed: Listed, error: BaseException) -> None:
        self._summary.failed += 1
        self._summary.error = self._summary.error or f"publishing to {listed.topic}: {error!r}"
        self._emit(replace(listed, action="failed"))
