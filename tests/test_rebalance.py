"""A second instance joins and leaves mid-run: partitions move, nothing is lost."""

from __future__ import annotations

import asyncio

import orjson

from sandbox.simulator import Simulator, SimulatorConfig, running
from tests.kafka_support import KafkaTopic
from tests.service_support import committed, produce_keyed, service_running, settings_for


async def test_a_member_joining_and_leaving_mid_run_loses_nothing(kafka_topic: KafkaTopic) -> None:
    users, versions = 30, 40
    total = users * versions
    await produce_keyed(
        kafka_topic,
        [
            (
                f"user-{u}".encode(),
                orjson.dumps(
                    {
                        "type": "identify",
                        "userId": f"user-{u}",
                        "traits": {"email": f"u{u}@example.com", "firstName": f"v{v:03d}"},
                    }
                ),
            )
            for v in range(versions)
            for u in range(users)
        ],
    )
    config = SimulatorConfig(per_minute=0, per_hour=0, latency_ms=15)
    async with running(Simulator(config)) as served:
        settings = settings_for(kafka_topic, served, MAX_IN_FLIGHT="4")
        async with service_running(settings) as first:
            await first.until_finished(200)
            async with service_running(settings) as second:
                await second.until_finished(100)  # it got partitions and delivered from them
                assert first.service.stats.finished < total
            async with asyncio.timeout(60):
                while sum(p or 0 for p in (await committed(kafka_topic)).values()) < total:
                    await asyncio.sleep(0.2)
            handled = first.service.stats.finished + second.service.stats.finished
        sent: dict[str, set[str]] = {}
        for request in served.simulator.requests:
            if request.path.endswith("/contacts/upsert") and request.status == 200:
                contact = request.body["contact"]
                sent.setdefault(contact["emails"], set()).add(contact["first_name"])
        contacts = served.simulator.state("suite")["contacts"]
    every = {f"v{v:03d}" for v in range(versions)}
    assert all(names == every for names in sent.values())
    assert len(sent) == users
    assert {c["first_name"] for c in contacts} == {f"v{versions - 1:03d}"}
    assert handled >= total
