"""A second instance joins and leaves mid-run: partitions move, nothing is lost."""

from __future__ import annotations

import pytest

from sandbox.simulator import Simulator, SimulatorConfig, running
from tests.kafka_support import KafkaTopic
from tests.service_support import (
    produce_keyed,
    service_running,
    settings_for,
    until_committed,
    upserted_names,
    versioned_identifies,
)


@pytest.mark.slow
async def test_a_member_joining_and_leaving_mid_run_loses_nothing(kafka_topic: KafkaTopic) -> None:
    users, versions = 30, 40
    total = users * versions
    await produce_keyed(kafka_topic, versioned_identifies(users, versions))
    config = SimulatorConfig(per_minute=0, per_hour=0, latency_ms=15)
    async with running(Simulator(config)) as served:
        settings = settings_for(kafka_topic, served, MAX_IN_FLIGHT="4", COALESCE_IDENTIFIES="false")
        async with service_running(settings) as first:
            await first.until_finished(200)
            async with service_running(settings) as second:
                await second.until_finished(100)  # it got partitions and delivered from them
                assert first.service.stats.finished < total
            await until_committed(kafka_topic, total)
            handled = first.service.stats.finished + second.service.stats.finished
        sent = upserted_names(served.simulator)
        contacts = served.simulator.state("suite")["contacts"]
    every = {f"v{v:03d}" for v in range(versions)}
    assert all(set(names) == every for names in sent.values())
    assert len(sent) == users
    assert {c["first_name"] for c in contacts} == {f"v{versions - 1:03d}"}
    assert handled >= total
