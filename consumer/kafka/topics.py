"""Topics the service writes to, made sure of at start-up (``ensure_topic``, for the ledger, the
identity and waiting topics too): the dead-letter topic exists, or is created, or the service
does not start.

A dead letter Kafka cannot take is tried again for as long as it takes (``deadletters.py``): its
offset, and every later commit of its partition, stays open meanwhile. On a broker that does not
create topics by itself, a missing dead-letter topic would therefore stall the first partition
to need it, silently. It is created at start-up like the ledger, and when that is not allowed
the start ends with a configuration error naming the topic and the fix.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from consumer.errors import BrokerError, BrokerRefused, ConfigurationError
from consumer.kafka.boundary import kafka_errors
from consumer.logs import get_logger

log = get_logger(__name__)

DLQ_PARTITIONS: Final = 1
"""Dead letters are few and read in whole by ``dlq replay``: one partition is plenty."""
CHECK_TIMEOUT_S: Final = 30.0


class Admin(Protocol):
    """What is used of aiokafka's admin client."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def list_topics(self) -> list[str]: ...

    async def describe_cluster(self) -> dict[str, Any]: ...

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]: ...

    async def create_topics(self, new_topics: list[NewTopic]) -> Any: ...


async def ensure_topic(
    make_admin: Callable[[], Admin],
    name: str,
    partitions: int,
    *,
    like: str | None = None,
    configs: Mapping[str, str] | None = None,
) -> NewTopic | None:
    """Create the topic unless it exists, with ``partitions`` (as many as ``like`` has, when that
    topic exists) and ``configs`` (else the broker's defaults); the topic created here, None when
    it existed. Raises BrokerError, BrokerRefused when the broker refuses to create it."""
    admin = make_admin()
    try:
        with kafka_errors(f"topic {name}"):
            await admin.start()
            topics = await admin.list_topics()
            if name in topics:
                return None
            if like is not None and like in topics:
                described = await admin.describe_topics([like])
                partitions = max(1, len(described[0].get("partitions") or ()))
            brokers = len((await admin.describe_cluster())["brokers"])
            topic = NewTopic(
                name, partitions, min(3, max(1, brokers)), topic_configs=dict(configs or {})
            )
            answer = await admin.create_topics([topic])
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    refusal = refused(getattr(answer, "topic_errors", ()), name)
    if refusal is not None:
        raise BrokerRefused(f"topic {name}: {refusal}")
    return topic


def refused(topic_errors: Sequence[tuple[Any, ...]], name: str) -> str | None:
    """Why the broker did not create ``name`` (None: it did, or it already exists). aiokafka
    hands back CreateTopics' answer without raising for the error codes in it."""
    for topic, code, *message in topic_errors:
        if topic != name or code == 0:
            continue
        error = for_code(code)
        if error is TopicAlreadyExistsError:  # created meanwhile, by another replica
            return None
        detail = next((m for m in message if m), None)
        return f"{error.__name__}" + (f" ({detail})" if detail else "")
    return None


async def dead_letter_topic(
    make_admin: Callable[[], Admin], name: str, timeout_s: float = CHECK_TIMEOUT_S
) -> bool:
    """Make sure the dead-letter topic exists; True when it was created here. Raises
    ConfigurationError, naming the topic and the fix, when the broker refuses to create it. A
    broker that does not answer in time is logged and the start goes on, as before this check:
    the broker just took the producer's connection, so that is the odd case, and a guess."""
    try:
        async with asyncio.timeout(timeout_s):
            created = await ensure_topic(make_admin, name, DLQ_PARTITIONS) is not None
    except BrokerRefused as exc:
        raise ConfigurationError(
            f"the dead-letter topic {name!r} does not exist and could not be created ({exc});"
            " create it, allow this client to create topics (CreateTopics), or set"
            " KAFKA_DLQ_TOPIC to a topic that exists: without it the first dead letter would"
            " hold back every later commit of its partition"
        ) from None
    except (BrokerError, TimeoutError) as exc:
        log.warning("dead_letter_topic_unverified", topic=name, error=str(exc) or repr(exc))
        return False
    if created:
        log.info("dead_letter_topic_created", topic=name, partitions=DLQ_PARTITIONS)
    return created
