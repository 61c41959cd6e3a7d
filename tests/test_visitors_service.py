"""The visitor before the form, through the real service, the embedded broker and the simulator:
what analytics.js sends before sign-up waits in Kafka — through a SIGKILL, on another replica —
and reaches the lead the visitor becomes; a visitor who never signs up costs nothing."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator

import orjson
import pytest

from sandbox.simulator import RunningSimulator, Simulator, SimulatorConfig, running
from tests.evidence_support import LetterReader, service_env, service_process
from tests.kafka_support import KafkaTopic
from tests.service_support import (
    produce_keyed,
    service_running,
    settings_for,
    until_committed,
)


@pytest.fixture
async def served() -> AsyncIterator[RunningSimulator]:
    async with running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served:
        yield served


def pages(visitor: str, count: int = 3) -> list[tuple[bytes, bytes]]:
    """A visitor's anonymous page views, keyed (and so partitioned) by their anonymousId."""
    return [
        (
            visitor.encode(),
            orjson.dumps(
                {
                    "type": "page",
                    "anonymousId": visitor,
                    "name": ("Home", "Pricing", "Docs")[n % 3],
                    "messageId": f"{visitor}-page-{n}",
                    "timestamp": f"2026-11-30T10:0{n}:00Z",
                    "context": {"library": {"name": "analytics.js", "version": "5.2.0"}},
                }
            ),
        )
        for n in range(count)
    ]


def signup(user: str, visitor: str | None, email: str) -> tuple[bytes, bytes]:
    event: dict[str, object] = {"type": "identify", "userId": user, "traits": {"email": email}}
    if visitor is not None:
        event["anonymousId"] = visitor
    return user.encode(), orjson.dumps(event)


def activities(served: RunningSimulator) -> list[dict[str, object]]:
    return list(served.simulator.state("suite")["sales_activities"])


def contact_id(served: RunningSimulator, email: str) -> object:
    return next(c["id"] for c in served.simulator.state("suite")["contacts"] if c["email"] == email)


async def until(condition: object, limit_s: float = 30.0) -> None:
    assert callable(condition)
    async with asyncio.timeout(limit_s):
        while not condition():
            await asyncio.sleep(0.1)


async def test_a_visitors_pages_kept_through_a_sigkill_reach_the_lead_via_another_replica(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    env = service_env(kafka_topic, served, LOG_LEVEL="warning")
    await produce_keyed(kafka_topic, pages("visitor-1"))
    async with service_process(env) as first:
        await until_committed(kafka_topic, 3)  # kept in the waiting topic, so committed
        first.process.send_signal(signal.SIGKILL)
        await first.process.wait()
    assert activities(served) == []  # nothing sent for a visitor nobody knows
    await produce_keyed(kafka_topic, [signup("u-1", "visitor-1", "ada@example.com")])
    async with service_process(env) as second:
        await until(lambda: len(activities(served)) == 1)
        second.process.send_signal(signal.SIGTERM)
        assert await second.process.wait() == 0
    (history,) = activities(served)
    assert str(history["title"]).startswith("Before sign-up: 3 events: ")
    assert re.findall(r"messageId: (\S+)", str(history["notes"])) == [
        f"visitor-1-page-{n}" for n in range(3)
    ]
    assert history["targetable_id"] == contact_id(served, "ada@example.com")
    async with LetterReader(kafka_topic.bootstrap_servers, f"{kafka_topic.name}.dlq") as letters:
        assert await letters.take(1, timeout_s=1.0) == []


async def test_alias_first_identification_and_junk_ids_through_the_service(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    settings = settings_for(kafka_topic, served)
    async with service_running(settings) as run:
        # Two people sign up on one shared computer: the browser's id stays with the first.
        await produce_keyed(kafka_topic, [signup("u-1", "shared", "first@example.com")])
        await run.until_finished(1)
        await produce_keyed(kafka_topic, [signup("u-2", "shared", "second@example.com")])
        await run.until_finished(2)
        await produce_keyed(kafka_topic, pages("shared", 1))
        await run.until_finished(3)
        # The second one's other device, then the alias that says it was them.
        await produce_keyed(kafka_topic, pages("tablet", 2))
        await run.until_finished(5)
        alias = {"type": "alias", "userId": "u-2", "previousId": "tablet", "messageId": "al-1"}
        junk = {"type": "alias", "userId": "u-2", "previousId": "undefined", "messageId": "al-2"}
        # A placeholder userId names nobody: the page waits for its (real) anonymousId.
        placeholder = {"type": "page", "userId": "null", "anonymousId": "v-9", "name": "Home"}
        await produce_keyed(
            kafka_topic,
            [
                (b"u-2", orjson.dumps(alias)),
                (b"u-2", orjson.dumps(junk)),
                (b"null", orjson.dumps(placeholder)),
            ],
        )
        await run.until_finished(8)
        await until(lambda: run.service.stats.after_wait["stitched"] == 2)
        stats, book = run.service.stats, run.service.book
    first, second = (
        contact_id(served, "first@example.com"),
        contact_id(served, "second@example.com"),
    )
    by_title = {str(a["title"]): a["targetable_id"] for a in activities(served)}
    assert by_title == {
        "Viewed Home": first,  # the shared browser's page: the first person's
        "Before sign-up: 2 events: Viewed Home, Viewed Pricing": second,
    }
    assert book.conflicts == 1
    assert stats.outcomes["linked"] == 1
    assert stats.by_type[("alias", "skipped")] == 1  # the junk alias: nothing to link
    assert stats.by_type[("page", "waiting")] == 3  # the tablet's two and v-9's
    assert stats.dead_letters == {}


async def test_a_visitor_who_never_signs_up_expires_and_an_unknown_user_is_dead_lettered(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    track = {"type": "track", "userId": "never-identified", "event": "Clicked", "messageId": "t"}
    await produce_keyed(
        kafka_topic, [*pages("drive-by", 2), (b"never-identified", orjson.dumps(track))]
    )
    settings = settings_for(kafka_topic, served, IDENTITY_WAIT_SECONDS="1")
    async with service_running(settings) as run:
        await run.until_finished(3)
        await until(lambda: sum(run.service.stats.after_wait.values()) == 3)
        after = run.service.stats.after_wait
    assert (after["expired"], after["dead_lettered"]) == (2, 1)
    assert activities(served) == []
    async with LetterReader(kafka_topic.bootstrap_servers, f"{kafka_topic.name}.dlq") as letters:
        (letter,) = await letters.take(1)
    assert letter.header("fsd-reason") == "unknown_person"
    assert letter.header("fsd-source-topic") == kafka_topic.name  # replayable to the source
    assert letter.key == b"never-identified"
    assert orjson.loads(letter.value or b"{}") == track
