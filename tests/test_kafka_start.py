"""Starting a Kafka client: a broker not up yet is waited for; refused settings stop the start."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiokafka.errors import KafkaConnectionError, UnsupportedSaslMechanismError

from consumer.errors import ConfigurationError
from consumer.kafka import start as kafka_start
from consumer.kafka.start import started


class Client:
    def __init__(self, outcomes: list[Exception | None]) -> None:
        self._outcomes = outcomes
        self.stopped = 0

    async def start(self) -> None:
        outcome = self._outcomes.pop(0)
        if outcome is not None:
            raise outcome

    async def stop(self) -> None:
        self.stopped += 1


async def test_a_broker_that_is_not_up_yet_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_start, "MAX_PAUSE_S", 0.01)
    outcomes: list[Exception | None] = [KafkaConnectionError("refused"), None]
    made: list[Client] = []

    def make() -> Client:
        made.append(Client(outcomes))
        return made[-1]

    client = await asyncio.wait_for(started(make, asyncio.Event(), "producer"), 5)
    assert client is made[-1]
    assert len(made) == 2
    assert made[0].stopped == 1  # the failed attempt's client is closed, a new one is made


async def test_settings_the_broker_refuses_are_a_configuration_error() -> None:
    def make() -> Client:
        return Client([UnsupportedSaslMechanismError("PLAIN")])

    with pytest.raises(ConfigurationError, match=r"UnsupportedSaslMechanism.*KAFKA_SASL"):
        await started(make, asyncio.Event(), "producer")


async def test_a_stop_while_waiting_ends_the_start_without_a_client() -> None:
    stop = asyncio.Event()

    def make() -> Client:
        stop.set()  # SIGTERM arrives during the first attempt
        return Client([KafkaConnectionError("refused")])

    assert await started(make, stop, "producer") is None


async def test_each_failed_attempt_says_why_and_success_says_it_is_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kafka_start, "MAX_PAUSE_S", 0.01)
    outcomes: list[Exception | None] = [KafkaConnectionError("refused"), None]
    heard: list[str | None] = []
    await asyncio.wait_for(
        started(lambda: Client(outcomes), asyncio.Event(), "producer", unreachable=heard.append),
        5,
    )
    assert heard == ["starting the producer: KafkaConnectionError: refused", None]


async def test_a_stop_while_kafka_is_unreachable_is_logged_and_readyz_says_why() -> None:
    from structlog.testing import capture_logs

    from consumer.ops.observed import ready
    from consumer.service import Service
    from consumer.settings import Settings
    from sandbox.simulator import Simulator, SimulatorConfig, running

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    async with running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served:
        settings = Settings.from_env(
            {
                "KAFKA_BOOTSTRAP_SERVERS": closed,
                "FRESHSALES_BASE_URL": served.base_url(),
                "FRESHSALES_API_KEY": "sim-api-key",
                "HTTP_PORT": "0",
            }
        )
        service = Service(settings)
        stop = asyncio.Event()
        with capture_logs() as logs:
            task = asyncio.create_task(service.run(stop))
            async with asyncio.timeout(20):
                while service.kafka_unreachable is None:
                    await asyncio.sleep(0.02)
            ok, detail = ready(service)
            stop.set()  # SIGTERM
            status = await asyncio.wait_for(task, 20)
    assert status == 0
    assert not ok
    assert detail.startswith(f"the Kafka broker is unreachable: {closed}: starting the producer:")
    events = [line["event"] for line in logs]
    assert events[-2:] == ["stopping", "stopped"]
    assert "kafka_unreachable" in events
