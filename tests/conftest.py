"""Shared test configuration: derandomized Hypothesis in CI, and the Kafka fixtures."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings

from sandbox.broker import Broker
from sandbox.broker import kafka_broker as broker_for_tests
from tests.kafka_support import KafkaTopic, fresh_topic

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the broker is an integration test, whatever its module says. Slow tests
    go first, so that parallel workers (``-n``) do not end waiting on one long test."""
    for item in items:
        if "kafka_broker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Broker]:
    """The session's broker: KAFKA_BOOTSTRAP_SERVERS, testcontainers, or embedded Tansu."""
    with broker_for_tests() as broker:
        yield broker


@pytest.fixture
async def kafka_topic(kafka_broker: Broker) -> AsyncIterator[KafkaTopic]:
    """A new topic (3 partitions) and consumer group for one test; deleted afterwards."""
    async with fresh_topic(kafka_broker) as topic:
        yield topic
