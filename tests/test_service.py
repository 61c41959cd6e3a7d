"""The service end to end: real broker, real simulator, the seed's events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from sandbox.demo import sample_lines
from sandbox.simulator import Fault, RunningSimulator, Simulator, SimulatorConfig, running
from tests.kafka_support import KafkaTopic
from tests.service_support import (
    committed,
    produce,
    produce_keyed,
    service_running,
    settings_for,
    upserted_names,
    versioned_identifies,
)


@pytest.fixture
async def served() -> AsyncIterator[RunningSimulator]:
    async with running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served:
        yield served


async def dead_letters(topic: KafkaTopic, count: int) -> list[dict[str, bytes | None]]:
    consumer = AIOKafkaConsumer(
        f"{topic.name}.dlq",
        bootstrap_servers=topic.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    letters: list[dict[str, bytes | None]] = []
    try:
        while len(letters) < count:
            batches = await consumer.getmany(timeout_ms=2000)
            if not batches:
                break
            for records in batches.values():
                letters += [{"value": r.value, **dict(r.headers)} for r in records]
    finally:
        await consumer.stop()
    return letters


async def topic_names(topic: KafkaTopic) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=topic.bootstrap_servers)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


async def test_the_seed_events_arrive_as_mapping_md_says(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    lines = sample_lines()
    await produce(kafka_topic, lines, key=b"all")
    settings = settings_for(kafka_topic, served, FRESHSALES_STAGE_MAP="Order Completed=Customer")
    async with service_running(settings) as run:
        await run.until_finished(len(lines))
        stats = run.service.stats
    state = served.simulator.state("suite")
    emails = {c["email"] for c in state["contacts"]}
    assert {"john.doe@example.com", "ada@acme.example"} <= emails
    assert {a["name"] for a in state["sales_accounts"]} >= {"Example.com", "Acme Analytics"}
    assert [d["name"] for d in state["deals"]] == ["Sample Deal"]
    titles = sorted(a["title"] for a in state["sales_activities"])
    assert "Email Bounced" in titles
    assert "Viewed Pricing" in titles
    assert stats.outcomes["dead_lettered"] >= 1
    letters = await dead_letters(kafka_topic, stats.outcomes["dead_lettered"])
    assert {letter["fsd-reason"] for letter in letters} >= {b"invalid_email"}
    positions = await committed(kafka_topic)
    assert sum(p or 0 for p in positions.values()) == len(lines)


async def test_a_rejected_event_is_dead_lettered_and_later_events_still_flow(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    events = [
        {"type": "identify", "userId": f"u{n}", "traits": {"email": f"u{n}@example.com"}}
        for n in range(3)
    ]
    async with service_running(settings_for(kafka_topic, served)) as run:
        await run.until_assigned()
        # Made sure of at start-up (on a broker that creates no topic by itself, the first
        # dead letter would otherwise wait for ever), before any letter needs it.
        assert f"{kafka_topic.name}.dlq" in await topic_names(kafka_topic)
        served.simulator.inject(Fault(status=400))
        await produce(kafka_topic, [orjson.dumps(e) for e in events], key=b"k")
        await run.until_finished(3)
        assert run.service.stats.dead_letters == {"rejected": 1}
        assert run.service.stats.outcomes["delivered"] == 2
    (letter,) = await dead_letters(kafka_topic, 1)
    assert letter["fsd-status"] == b"400"
    assert orjson.loads(letter["value"] or b"")["userId"] == "u0"


async def test_each_users_events_are_delivered_in_order_under_concurrency_and_faults(
    kafka_topic: KafkaTopic,
) -> None:
    users, versions = 12, 15
    config = SimulatorConfig(per_minute=0, per_hour=0, fail_rate=0.08, latency_ms=3, seed=11)
    async with running(Simulator(config)) as served:
        # Keyed by user as Kafka sources key Segment events: Kafka orders within a partition only.
        await produce_keyed(kafka_topic, versioned_identifies(users, versions))
        settings = settings_for(kafka_topic, served, MAX_IN_FLIGHT="8")
        async with service_running(settings) as run:
            await run.until_finished(users * versions)
            outcomes = run.service.stats.outcomes
            # Identifies queued behind each other merge: fewer upserts, the same final state.
            assert outcomes["delivered"] + outcomes["coalesced"] == users * versions
            assert run.service.stats.retries > 0
        sent = upserted_names(served.simulator)
        contacts = served.simulator.state("suite")["contacts"]
    assert {c["first_name"] for c in contacts} == {f"v{versions - 1:03d}"}
    for email, names in sent.items():
        # A retried upsert may repeat a name, but never goes back to an older one.
        assert names == sorted(names), email


async def test_on_classic_the_seed_identify_is_a_lead_with_nested_company_and_deal(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    lines = sample_lines()
    await produce(kafka_topic, lines, key=b"all")
    async with service_running(settings_for(kafka_topic, served, "classic")) as run:
        await run.until_finished(len(lines))
    state = served.simulator.state("classic")
    leads = {lead["email"]: lead for lead in state["leads"]}
    assert set(leads) == {"john.doe@example.com", "ada@acme.example"}
    assert leads["john.doe@example.com"]["custom_field"] == {"cf_alternate_number": "98765432"}
    assert "john.doe@example.com" in {c["email"] for c in state["contacts"]}
    assert {"Example.com", "Acme Analytics"} <= {a["name"] for a in state["sales_accounts"]}
    assert {a["targetable_type"] for a in state["sales_activities"]} <= {"Lead", "Contact"}
    assert served.simulator.state("suite")["contacts"] == []


POISON = [
    b"",
    b"not json",
    b'{"type": "identify", "userId": "u1", "traits": {"email": "x@example.com"',
    b"[1, 2, 3]",
    b'"just a string"',
    b"\xff\xfe\x00garbage",
    b'{"userId": "no-type"}',
    b'{"type": "identify", "traits": {"email": "no-user@example.com"}}',
    b'{"type": "track", "userId": "null", "event": "Clicked"}',  # a placeholder: nobody
    b'{"type": "identify", "userId": "u2", "traits": {"email": "' + b"a" * 100_000 + b'"}}',
    b"[" * 5000 + b"]" * 5000,
]


async def test_poison_messages_are_dead_lettered_with_a_reason_and_valid_ones_still_flow(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    good = orjson.dumps({"type": "identify", "userId": "ok", "traits": {"email": "ok@example.com"}})
    records = [*POISON, good]
    await produce(kafka_topic, records, key=b"same-key")
    async with service_running(settings_for(kafka_topic, served)) as run:
        await run.until_finished(len(records))
        stats = run.service.stats
    assert stats.outcomes == {"dead_lettered": len(POISON), "delivered": 1}
    letters = await dead_letters(kafka_topic, len(POISON))
    assert [letter["value"] or b"" for letter in letters] == POISON
    assert all(letter["fsd-reason"] for letter in letters)
    assert {c["email"] for c in served.simulator.state("suite")["contacts"]} == {"ok@example.com"}
