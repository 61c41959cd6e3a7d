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
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from consumer.commands.check.report import Result, Status, skipped
from consumer.errors import BrokerError
from consumer.kafka.boundary import kafka_errors
from consumer.kafka.config import connection
from consumer.settings import Settings

KAFKA: Final = "kafka"
SOURCE: Final = "source topic"
DLQ: Final = "dead-letter topic"
LEDGER: Final = "ledger topic"
AUTO_CREATE: Final = "auto.create.topics.enable"


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
            dlq = topics.get(s.dlq_topic)
            auto = None if dlq is not None else await _auto_create(admin, brokers, timeout_s)
            facts.results.append(dlq_result(s.dlq_topic, dlq, auto))
            facts.results.append(ledger_result(s, topics.get(s.ledger_topic)))
            return facts
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout_s):
                await admin.close()
    facts.results.append(Result(KAFKA, Status.FAIL, failure))
    facts.results += skipped((SOURCE, DLQ, LEDGER), "not checked: Kafka is unreachable")
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


def dlq_result(name: str, topic: Mapping[str, Any] | None, auto_create: bool | None) -> Result:
    """A missing dead-letter topic only warns when the broker is known to auto-create topics.

    Otherwise the service's first dead letter waits for a topic that never comes: the letter is
    retried forever and its offset, hence every later commit of that partition, stays open.
    Not knowing counts as not creating: exit 0 must mean the service can dead-letter.
    """
    if topic is not None:
        partitions = len(topic.get("partitions") or [])
        return Result(DLQ, Status.OK, f"{name!r}: {partitions} partition(s)")
    if auto_create:
        return Result(
            DLQ,
            Status.WARN,
            f"{name!r} does not exist; the broker auto-creates topics, so the first dead letter"
            " creates it with the broker's defaults (create it to choose retention)",
        )
    why = "does not auto-create" if auto_create is False else "does not say whether it auto-creates"
    return Result(
        DLQ,
        Status.FAIL,
        f"{name!r} does not exist and the broker {why} topics ({AUTO_CREATE}): dead letters"
        " would be retried forever and hold back commits; create it (KAFKA_DLQ_TOPIC)",
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
        " CreateTopics permission — without it, track/page delivered just before a restart may"
        " be sent again (KAFKA_LEDGER_TOPIC)",
    )


async def _auto_create(
    admin: AIOKafkaAdminClient, brokers: Sequence[Mapping[str, Any]], timeout_s: float
) -> bool | None:
    """The broker's ``auto.create.topics.enable``; None when it does not say (no permission to
    describe configs, or a broker that does not answer for itself, such as Tansu)."""
    if not brokers:
        return None
    broker = str(brokers[0]["node_id"])
    resource = ConfigResource(ConfigResourceType.BROKER, broker, {AUTO_CREATE: None})
    try:
        async with asyncio.timeout(timeout_s):
            with kafka_errors("describing the broker's configuration"):
                answers = await admin.describe_configs([resource])
    except (TimeoutError, BrokerError):
        return None
    for answer in answers:
        for found in answer.to_object().get("resources", []):
            for entry in found.get("config_entries", []):
                name = entry.get("config_names", entry.get("config_name"))
                value = entry.get("config_value")
                if name == AUTO_CREATE and isinstance(value, str):
                    return value.strip().lower() == "true"
    return None


async def recent_values(
    s: Settings, partitions: Sequence[int], sample: int, timeout_s: float
) -> list[bytes]:
    """The values of about ``sample`` latest source records, spread over the partitions; raises
    BrokerError (or TimeoutError) when the topic cannot be read.

    The embedded broker under-reports end offsets; that only moves the start earlier.
    """
    # No group: nothing to join (no rebalance of the running service's group), nothing to commit.
    consumer = AIOKafkaConsumer(**connection(s), enable_auto_commit=False)
    tps = [TopicPartition(s.kafka_topic, p) for p in partitions]
    values: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        with kafka_errors(f"reading {s.kafka_topic}"):
            async with asyncio.timeout(timeout_s):
                await consumer.start()
                consumer.assign(tps)
                first = await consumer.beginning_offsets(tps)
                end = await consumer.end_offsets(tps)
            share = -(-sample // len(tps))
            for tp in tps:
                consumer.seek(tp, max(first[tp], end[tp] - share))
            while len(values) < sample and loop.time() < deadline:
                batches = await consumer.getmany(timeout_ms=500, max_records=sample - len(values))
                if not batches:
                    break  # caught up on every partition
                values += [r.value for rs in batches.values() for r in rs if r.value is not None]
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
    return values
