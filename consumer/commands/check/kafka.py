"""``check``, the Kafka side: reach the brokers, find the source and dead-letter topics, and read a
sample of recent source events.

Read-only by construction: topics are looked up in the all-topics metadata answer, never asked for
by name, because a metadata request naming a topic makes an auto-creating broker create it (Tansu
does so, with 4 partitions). The sample is read without a consumer group, so nothing is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from consumer.commands.check.report import Result, Status, skipped
from consumer.commands.check.sample import Reading
from consumer.errors import BrokerError
from consumer.kafka.boundary import kafka_errors
from consumer.kafka.config import connection
from consumer.settings import Settings

KAFKA: Final = "kafka"
SOURCE: Final = "source topic"
DLQ: Final = "dead-letter topic"
LEDGER: Final = "ledger topic"
IDENTITIES: Final = "identity topic"
WAITING: Final = "waiting topic"


@dataclass
class KafkaFacts:
    results: list[Result] = field(default_factory=list)
    source_partitions: tuple[int, ...] = ()
    """Partition ids of the source topic; empty when it was not found."""


async def kafka_checks(s: Settings, timeout_s: float) -> KafkaFacts:
    facts = KafkaFacts()
    servers = s.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(**connection(s), request_timeout_ms=int(timeout_s * 1000))
    try:
        try:
            async with asyncio.timeout(timeout_s):
                with kafka_errors(f"cannot reach {servers}"):
                    await admin.start()
                    brokers = (await admin.describe_cluster()).get("brokers") or []
                    topics = {t["topic"]: t for t in await admin.describe_topics()}
        except TimeoutError:
            failure = f"no answer from {servers} within {timeout_s:g} s"
        except BrokerError as exc:
            failure = str(exc)
        except (OSError, ValueError) as exc:  # e.g. a bootstrap address aiokafka cannot parse
            failure = f"cannot use {servers}: {exc!r}"
        else:
            facts.results += [
                Result(KAFKA, Status.OK, f"{servers}: {len(brokers)} broker(s) answered"),
                _source(s.kafka_topic, topics.get(s.kafka_topic), facts),
            ]
            facts.results.append(dlq_result(s.dlq_topic, topics.get(s.dlq_topic)))
            facts.results.append(ledger_result(s, topics.get(s.ledger_topic)))
            facts.results.append(await identity_result(s, topics.get(s.identity_topic), timeout_s))
            facts.results.append(waiting_result(s, topics.get(s.waiting_topic)))
            return facts
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout_s):
                await admin.close()
    facts.results.append(Result(KAFKA, Status.FAIL, failure))
    facts.results += skipped(
        (SOURCE, DLQ, LEDGER, IDENTITIES, WAITING), "not checked: Kafka is unreachable"
    )
    return facts


def _source(name: str, topic: Mapping[str, Any] | None, facts: KafkaFacts) -> Result:
    if topic is None:
        return Result(SOURCE, Status.FAIL, f"{name!r} does not exist (KAFKA_TOPIC)")
    partitions = topic.get("partitions") or []
    facts.source_partitions = tuple(sorted(p["partition"] for p in partitions))
    leaderless = [p["partition"] for p in partitions if p.get("leader", -1) < 0]
    detail = f"{name!r}: {len(partitions)} partition(s)"
    if leaderless:
        return Result(SOURCE, Status.WARN, f"{detail}; without a leader: {leaderless}")
    return Result(SOURCE, Status.OK, detail)


def dlq_result(name: str, topic: Mapping[str, Any] | None) -> Result:
    """A missing dead-letter topic warns, as the ledger does: ``run`` creates it at start, and
    refuses to start when it may not (a dead letter that cannot be written would hold back every
    later commit of its partition)."""
    if topic is not None:
        partitions = len(topic.get("partitions") or [])
        return Result(DLQ, Status.OK, f"{name!r}: {partitions} partition(s)")
    return Result(
        DLQ,
        Status.WARN,
        f"{name!r} does not exist; the service creates it at start, which needs the CreateTopics"
        " permission — without it the service refuses to start. Create it to choose its"
        " partitions and retention (KAFKA_DLQ_TOPIC)",
    )


def ledger_result(s: Settings, topic: Mapping[str, Any] | None) -> Result:
    """The delivered-activity ledger only warns when missing: the service creates it at start,
    and without it nothing is lost, only de-duplication across restarts."""
    name = s.ledger_topic
    if s.dedupe_window_seconds == 0:
        return Result(LEDGER, Status.SKIP, "not used: DEDUPE_WINDOW_SECONDS is 0")
    if topic is not None:
        partitions = len(topic.get("partitions") or [])
        return Result(LEDGER, Status.OK, f"{name!r}: {partitions} partition(s)")
    return Result(
        LEDGER,
        Status.WARN,
        f"{name!r} does not exist; the service creates it at start, which needs the"
        " CreateTopics permission — without it, track/page/screen delivered just before a"
        " restart may be sent again (KAFKA_LEDGER_TOPIC)",
    )


async def identity_result(s: Settings, topic: Mapping[str, Any] | None, timeout_s: float) -> Result:
    """The identity map: read whole by every replica at start-up, so a topic that exists must be
    readable; one that does not is created at start (it needs the CreateTopics permission)."""
    name = s.identity_topic
    if topic is None:
        return Result(
            IDENTITIES,
            Status.WARN,
            f"{name!r} does not exist; the service creates it at start (1 partition, kept"
            " forever), which needs the CreateTopics permission — without it the service refuses"
            " to start (KAFKA_IDENTITY_TOPIC)",
        )
    try:
        checkpoint, end = await _identity_extent(s, timeout_s)
    except (BrokerError, TimeoutError) as exc:
        why = str(exc) or f"no answer within {timeout_s:g} s"
        return Result(IDENTITIES, Status.FAIL, f"{name!r} cannot be read: {why}")
    start = checkpoint or 0
    since = "the last snapshot" if checkpoint is not None else "the beginning (no snapshot yet)"
    return Result(
        IDENTITIES,
        Status.OK,
        f"{name!r}: readable; start-up reads {max(0, end - start)} record(s), from {since}",
    )


async def _identity_extent(s: Settings, timeout_s: float) -> tuple[int | None, int]:
    """Where start-up reading begins (the checkpoint, None: the beginning) and where it ends."""
    # The checkpoint group has no members: asking for its committed offset commits nothing.
    consumer = AIOKafkaConsumer(
        **connection(s), group_id=s.identity_checkpoint_group, enable_auto_commit=False
    )
    tp = TopicPartition(s.identity_topic, 0)
    try:
        with kafka_errors(f"reading {s.identity_topic}"):
            async with asyncio.timeout(timeout_s):
                await consumer.start()
                consumer.assign([tp])
                checkpoint = await consumer.committed(tp)
                await consumer.seek_to_beginning(tp)
                await consumer.getmany(tp, timeout_ms=min(1000, int(timeout_s * 1000)))
                # The high watermark comes with a fetch, and is right on every broker.
                end = consumer.highwater(tp) or 0
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
    return checkpoint, end


def waiting_result(s: Settings, topic: Mapping[str, Any] | None) -> Result:
    """The events of people not known yet wait there: created at start when missing."""
    name = s.waiting_topic
    if topic is not None:
        partitions = len(topic.get("partitions") or [])
        return Result(WAITING, Status.OK, f"{name!r}: {partitions} partition(s)")
    return Result(
        WAITING,
        Status.WARN,
        f"{name!r} does not exist; the service creates it at start (the source topic's"
        " partitions, retention twice IDENTITY_WAIT_SECONDS), which needs the CreateTopics"
        " permission — without it the service refuses to start (KAFKA_WAITING_TOPIC)",
    )


@dataclass(frozen=True)
class Sample:
    values: list[bytes]
    unread: tuple[int, ...]
    """Partitions not read to their end within the time limit."""


async def recent_values(
    s: Settings, partitions: Sequence[int], sample: int, timeout_s: float
) -> Sample:
    """The values of about ``sample`` latest source records, spread over the partitions, read
    until each partition's end or the time limit; raises BrokerError (or TimeoutError) when the
    topic cannot be read at all."""
    # No group: nothing to join (no rebalance of the running service's group), nothing to commit.
    consumer = AIOKafkaConsumer(**connection(s), enable_auto_commit=False)
    tps = [TopicPartition(s.kafka_topic, p) for p in partitions]
    share = -(-sample // len(tps))
    readings: dict[TopicPartition, Reading] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        with kafka_errors(f"reading {s.kafka_topic}"):
            async with asyncio.timeout(timeout_s):
                await consumer.start()
                consumer.assign(tps)
                first = await consumer.beginning_offsets(tps)
                end = await consumer.end_offsets(tps)
            for tp in tps:
                readings[tp] = Reading.starting(first[tp], end[tp], share)
                consumer.seek(tp, readings[tp].next)
            while not all(r.done for r in readings.values()):
                left_ms = int((deadline - loop.time()) * 1000)
                if left_ms <= 0:
                    break
                batches = await consumer.getmany(timeout_ms=min(500, left_ms))
                for tp, reading in readings.items():
                    for record in batches.get(tp, ()):
                        reading.took(record.offset, record.value)
                    restart = reading.ends_at(consumer.highwater(tp))
                    if restart is not None:
                        consumer.seek(tp, restart)
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
    values = [value for reading in readings.values() for value in reading.latest()]
    return Sample(values, tuple(tp.partition for tp, r in readings.items() if not r.done))
