"""The dead-letter topic at start-up: there, created, or a refused start that names the topic and
the fix — never a first dead letter that waits forever for a topic that does not come."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaConnectionError
from structlog.testing import capture_logs

from consumer.errors import BrokerError, BrokerRefused, ConfigurationError
from consumer.kafka.topics import dead_letter_topic, ensure_topic, refused


@dataclass
class Answer:
    topic_errors: list[tuple[str, int, str | None]]


@dataclass
class FakeAdmin:
    """An admin client over a broker holding ``topics``; ``refuse``: CreateTopics' error code."""

    topics: list[str] = field(default_factory=list)
    refuse: int = 0
    down: bool = False
    created: list[NewTopic] = field(default_factory=list)
    closed: bool = False

    async def start(self) -> None:
        if self.down:
            raise KafkaConnectionError("Unable to bootstrap")

    async def close(self) -> None:
        self.closed = True

    async def list_topics(self) -> list[str]:
        return self.topics

    async def describe_cluster(self) -> dict[str, Any]:
        return {"brokers": [{"node_id": 1}, {"node_id": 2}]}

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        return [{"topic": t, "partitions": [{"partition": p} for p in range(6)]} for t in topics]

    async def create_topics(self, new_topics: list[NewTopic]) -> Answer:
        self.created += new_topics
        message = "Authorization failed." if self.refuse else None
        return Answer([(t.name, self.refuse, message) for t in new_topics])


async def test_an_existing_topic_is_left_as_it_is() -> None:
    admin = FakeAdmin(topics=["events.dlq"])
    assert await dead_letter_topic(lambda: admin, "events.dlq") is False
    assert (admin.created, admin.closed) == ([], True)


async def test_a_missing_topic_is_created_with_one_partition_and_logged() -> None:
    admin = FakeAdmin()
    with capture_logs() as logs:
        assert await dead_letter_topic(lambda: admin, "events.dlq") is True
    (topic,) = admin.created
    assert (topic.name, topic.num_partitions, topic.replication_factor) == ("events.dlq", 1, 2)
    assert logs[-1]["event"] == "dead_letter_topic_created"


async def test_a_topic_like_another_gets_its_partitions_and_the_settings_asked_for() -> None:
    admin = FakeAdmin(topics=["events"])
    configs = {"retention.ms": "-1", "cleanup.policy": "delete"}
    created = await ensure_topic(lambda: admin, "g.waiting", 1, like="events", configs=configs)
    assert created is not None
    assert (created.name, created.num_partitions, created.topic_configs) == (
        "g.waiting",
        6,
        configs,
    )
    alone = await ensure_topic(lambda: FakeAdmin(), "g.waiting", 1, like="events")
    assert alone is not None
    assert (alone.num_partitions, alone.topic_configs) == (1, {})  # ``like`` missing: as asked


async def test_a_refused_creation_refuses_the_start_naming_the_topic_and_the_fix() -> None:
    admin = FakeAdmin(refuse=29)  # TOPIC_AUTHORIZATION_FAILED
    with pytest.raises(BrokerRefused, match="TopicAuthorizationFailedError"):
        await ensure_topic(lambda: admin, "events.dlq", 1)
    with pytest.raises(ConfigurationError) as caught:
        await dead_letter_topic(lambda: admin, "events.dlq")
    message = str(caught.value)
    assert message.startswith(
        "the dead-letter topic 'events.dlq' does not exist and could not be created (topic"
        " events.dlq: TopicAuthorizationFailedError (Authorization failed.));"
    )
    assert "allow this client to create topics (CreateTopics)" in message
    assert "KAFKA_DLQ_TOPIC" in message


async def test_a_broker_that_does_not_answer_is_logged_and_the_start_goes_on() -> None:
    admin = FakeAdmin(down=True)
    with pytest.raises(BrokerError):
        await ensure_topic(lambda: admin, "events.dlq", 1)
    assert admin.closed
    with capture_logs() as logs:
        assert await dead_letter_topic(lambda: admin, "events.dlq") is False
    assert logs[-1]["event"] == "dead_letter_topic_unverified"


@pytest.mark.parametrize(
    ("errors", "why"),
    [
        ([], None),
        ([("t", 0, None)], None),
        ([("t", 36, "Topic with this name already exists.")], None),  # another replica was first
        ([("other", 29, None)], None),
        ([("t", 29, None)], "TopicAuthorizationFailedError"),
        ([("t", 31, "denied")], "ClusterAuthorizationFailedError (denied)"),
    ],
)
def test_what_the_broker_answered_to_create_topics(
    errors: list[tuple[str, int, str | None]], why: str | None
) -> None:
    assert refused(errors, "t") == why
