"""The service under a refused key, a bounded buffer, and a changing account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from consumer.service import Service
from sandbox.simulator import Fault, RunningSimulator, Simulator, SimulatorConfig, running
from tests.kafka_support import KafkaTopic
from tests.service_support import produce, service_running, settings_for


@pytest.fixture
async def served() -> AsyncIterator[RunningSimulator]:
    async with running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served:
        yield served


def stopped_for(service: Service) -> str | None:
    return service.standing.refusal


def identify(n: int) -> bytes:
    return orjson.dumps(
        {"type": "identify", "userId": f"u{n}", "traits": {"email": f"u{n}@example.com"}}
    )


async def test_a_refused_key_stops_delivery_without_dead_letters_then_resumes(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    async with service_running(settings_for(kafka_topic, served)) as run:
        await run.until_assigned()
        # The key is refused for a while (the next five calls, including re-checks).
        served.simulator.inject(Fault(status=401), times=5)
        await produce(kafka_topic, [identify(n) for n in range(6)], key=b"k")
        async with asyncio.timeout(10):
            while stopped_for(run.service) is None:
                await asyncio.sleep(0.01)
        assert not run.service.standing.key_accepted
        await run.until_finished(6)
        stats = run.service.stats
        assert stats.outcomes == {"delivered": 6}
        assert stats.dead_letters == {}
        assert stopped_for(run.service) is None
        assert run.service.standing.key_accepted


async def test_fetching_pauses_when_the_buffer_is_full(kafka_topic: KafkaTopic) -> None:
    config = SimulatorConfig(per_minute=0, per_hour=0, latency_ms=5)
    async with running(Simulator(config)) as served:
        await produce(kafka_topic, [identify(n) for n in range(600)])
        settings = settings_for(kafka_topic, served, MAX_BUFFERED="40", MAX_IN_FLIGHT="8")
        async with service_running(settings) as run:
            most = 0
            async with asyncio.timeout(60):
                while run.service.stats.finished < 600:
                    most = max(
                        most, run.service.engine.offsets.in_flight if run.service.engine else 0
                    )
                    await asyncio.sleep(0.002)
    assert 0 < most <= 40


async def test_the_account_is_read_again_on_a_slow_refresh(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    settings = settings_for(kafka_topic, served)
    service = Service(settings, refresh_interval_s=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        async with asyncio.timeout(20):
            while sum(r.path.endswith("selector/owners") for r in served.simulator.requests) < 3:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        assert await task == 0
