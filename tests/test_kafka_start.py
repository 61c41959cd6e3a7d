"""Starting a Kafka client: a broker not up yet is waited for; refused settings stop the start."""

from __future__ import annotations

import asyncio

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
