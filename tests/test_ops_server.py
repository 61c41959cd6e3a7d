"""/metrics, /healthz and /readyz of a running service, on the embedded broker and the simulator."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from consumer.errors import ConfigurationError
from consumer.service import Service
from sandbox.simulator import Fault, RunningSimulator, Simulator, SimulatorConfig, running
from tests.kafka_support import KafkaTopic
from tests.service_support import produce, service_running, settings_for
from tests.test_deploy import METRICS as DASHBOARD_METRICS
from tests.test_deploy import metric_names_in_deploy


@pytest.fixture
async def served() -> AsyncIterator[RunningSimulator]:
    async with running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served:
        yield served


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text, matched by name and (a subset of) labels."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    raise AssertionError(f"no sample {name} {labels}")


def events(count: int) -> list[bytes]:
    out = []
    for n in range(count):
        out.append(
            orjson.dumps(
                {"type": "identify", "userId": f"u{n}", "traits": {"email": f"u{n}@example.com"}}
            )
        )
        out.append(
            orjson.dumps(
                {
                    "type": "track",
                    "userId": f"u{n}",
                    "event": "Signed Up",
                    "messageId": f"t{n}",
                    "timestamp": "2026-11-30T10:00:00Z",
                }
            )
        )
    return out


async def test_metrics_move_as_events_are_delivered_and_probes_answer(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    async with service_running(settings_for(kafka_topic, served)) as run:
        await run.until_assigned()
        port = run.service.ops_port
        assert port is not None
        assert (await get(port, "/healthz"))[0] == 200
        status, body = await get(port, "/readyz")
        assert (status, orjson.loads(body)) == (200, {"ready": True, "detail": "ok"})
        _, before = await get(port, "/metrics")
        assert sample(before, "fsd_ready") == 1
        assert sample(before, "fsd_quota_used", window="minute") == 7  # the start-up reads
        await produce(kafka_topic, events(5), key=b"k")
        await run.until_finished(10)
        await asyncio.sleep(0.1)  # the committer
        _, after = await get(port, "/metrics")
    assert sample(after, "fsd_events_total", type="identify", outcome="delivered") == 5
    assert sample(after, "fsd_events_total", type="track", outcome="delivered") == 5
    assert (
        sample(after, "fsd_freshsales_calls_total", endpoint="POST contacts/upsert", status="200")
        == 5
    )
    assert sample(after, "fsd_freshsales_calls_total", endpoint="POST sales_activities") == 5
    assert sample(after, "fsd_quota_used", window="hour") == 17
    assert sample(after, "fsd_quota_remaining", window="minute") == 1_000_000 - 17
    assert sample(after, "fsd_delivery_latency_seconds_count") == 10
    committed = re.findall(r"^fsd_committed_offset\{.*\} (\S+)$", after, re.MULTILINE)
    assert sum(float(c) for c in committed) == 10  # the one partition all ten went to
    lags = re.findall(r"^fsd_consumer_lag\{.*\} (\S+)$", after, re.MULTILINE)
    assert lags == ["0.0"]
    assert sample(after, "fsd_oldest_unfinished_age_seconds") == 0
    assert sample(after, "fsd_backlog_events") == 0
    assert sample(after, "fsd_key_refused") == 0
    assert 0 <= sample(after, "fsd_fetch_loop_age_seconds") < 5
    assert sample(after, "fsd_dead_letters_total", reason="rejected") == 0  # every reason, from 0
    # What the dashboards in deploy/ query is exactly what the service exposes.
    assert set(re.findall(r"^# TYPE (\S+) ", after, re.MULTILINE)) == DASHBOARD_METRICS
    # Every name that a dashboard panel or an alert queries is a series of this scrape, suffix
    # included: a renamed metric cannot leave a panel empty or an alert silent.
    exported = set(re.findall(r"^([a-zA-Z_:][\w:]*)[{ ]", after, re.MULTILINE))
    used = metric_names_in_deploy()
    assert {where.split(":")[0] for places in used.values() for where in places} == {
        "freshsales-destination-metrics.json",
        "prometheusrule.yaml",
    }
    missing = {name: where for name, where in used.items() if name not in exported}
    assert not missing, f"deploy/ queries series the service does not export: {missing}"


async def test_readiness_drops_while_the_key_is_refused_and_returns_with_it(
    kafka_topic: KafkaTopic,
) -> None:
    async with (
        running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served,
        service_running(settings_for(kafka_topic, served)) as run,
    ):
        await run.until_assigned()
        port = run.service.ops_port
        assert port is not None
        served.simulator.inject(Fault(status=401), times=3)
        await produce(kafka_topic, events(1), key=b"u0")
        async with asyncio.timeout(10):
            while (await get(port, "/readyz"))[0] == 200:
                await asyncio.sleep(0.05)
        status, body = await get(port, "/readyz")
        assert status == 503
        assert "401" in orjson.loads(body)["detail"]
        assert (await get(port, "/healthz"))[0] == 200  # alive: a restart would not help
        _, text = await get(port, "/metrics")
        assert sample(text, "fsd_ready") == 0
        assert sample(text, "fsd_key_refused") == 1  # what FreshsalesDestinationKeyRefused pages on
        await run.until_finished(2)  # the re-check found the key good again
        assert (await get(port, "/readyz"))[0] == 200
        assert run.service.stats.dead_letters == {}


async def test_a_port_in_use_is_a_configuration_error_naming_the_setting(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "0.0.0.0", 0)
    port = blocker.sockets[0].getsockname()[1]
    try:
        service = Service(settings_for(kafka_topic, served, HTTP_PORT=str(port)))
        with pytest.raises(ConfigurationError, match=f"HTTP_PORT {port} is in use"):
            await service.run(asyncio.Event())
    finally:
        blocker.close()
        await blocker.wait_closed()
