"""Who a person is, through the real service, the embedded broker and the simulator: a website's
stream names people by a database userId for months after the one identify that carried the
email; the identity map kept in Kafka knows them across restarts and replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from sandbox.simulator import RunningSimulator, Simulator, SimulatorConfig, running
from tests.kafka_support import KafkaTopic
from tests.service_support import produce_keyed, service_running, settings_for

USERS = 30


@pytest.fixture
async def served() -> AsyncIterator[RunningSimulator]:
    async with running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served:
        yield served


def identify(n: int) -> tuple[bytes, bytes]:
    event = {
        "type": "identify",
        "userId": f"u-{n}",
        "anonymousId": f"anon-{n}",
        "messageId": f"identify-{n}",
        "traits": {"email": f"user{n}@example.org", "firstName": f"User{n}"},
    }
    return f"u-{n}".encode(), orjson.dumps(event)


def later(n: int) -> list[tuple[bytes, bytes]]:
    """What a website sends for months after the form: the userId alone."""
    key = f"u-{n}".encode()
    track = {"type": "track", "userId": f"u-{n}", "event": "Report Exported", "messageId": f"t-{n}"}
    page = {"type": "page", "userId": f"u-{n}", "name": "Dashboard", "messageId": f"p-{n}"}
    return [(key, orjson.dumps(track)), (key, orjson.dumps(page))]


def contacts_by_email(served: RunningSimulator) -> dict[str, dict[str, object]]:
    return {str(c["email"]): c for c in served.simulator.state("suite")["contacts"]}


async def test_after_a_restart_every_user_id_only_event_of_an_identified_user_is_delivered(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    await produce_keyed(kafka_topic, [identify(n) for n in range(USERS)])
    settings = settings_for(kafka_topic, served)
    async with service_running(settings) as first:
        await first.until_finished(USERS)
    # A new process: nothing but Kafka remembers who u-0 … u-29 are.
    await produce_keyed(kafka_topic, [record for n in range(USERS) for record in later(n)])
    async with service_running(settings) as second:
        await second.until_finished(2 * USERS)
        stats, book, loaded = (
            second.service.stats,
            second.service.book,
            second.service.identity_topic,
        )
    assert stats.outcomes == {"delivered": 2 * USERS}
    assert stats.calls == 2 * USERS  # one activity each: no look-up, no upsert
    assert len(book) == USERS
    assert loaded is not None
    assert loaded.loaded >= USERS
    people = contacts_by_email(served)
    by_id = {int(str(c["id"])): email for email, c in people.items()}
    targets = [a["targetable_id"] for a in served.simulator.state("suite")["sales_activities"]]
    assert sorted(by_id[int(str(t))] for t in targets) == sorted(
        f"user{n}@example.org" for n in range(USERS) for _ in range(2)
    )


async def test_a_replica_that_takes_over_the_partitions_knows_every_person_delivered_before(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    await produce_keyed(kafka_topic, [identify(n) for n in range(USERS)])
    settings = settings_for(kafka_topic, served)
    async with service_running(settings) as first:
        await first.until_finished(USERS)
        async with service_running(settings) as second:
            await second.until_assigned()
            # The first leaves: the second holds every partition, and knows everyone.
            first.stop.set()
            await first.task
            await produce_keyed(kafka_topic, [r for n in range(USERS) for r in later(n)])
            await second.until_finished(2 * USERS)
            stats = second.service.stats
    assert stats.outcomes == {"delivered": 2 * USERS}
    assert stats.dead_letters == {}


async def test_the_seed_person_under_two_user_ids_keeps_both_accounts(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    john = {"firstName": "John", "lastName": "Doe", "email": "john.doe@example.com"}
    events = [
        (
            b"97980cfea0067",
            {
                "type": "identify",
                "userId": "97980cfea0067",
                "traits": {**john, "company": {"name": "Example.com"}},
            },
        ),
        (
            b"john.doe@example.com",
            {"type": "track", "userId": "john.doe@example.com", "event": "Email Bounced"},
        ),
        (
            b"john.doe@example.com",
            {
                "type": "group",
                "userId": "john.doe@example.com",
                "groupId": "grp",
                "traits": {"name": "Grouped"},
            },
        ),
    ]
    await produce_keyed(kafka_topic, [(k, orjson.dumps(e)) for k, e in events])
    async with service_running(settings_for(kafka_topic, served)) as run:
        await run.until_finished(3)
        stats = run.service.stats
    assert stats.outcomes == {"delivered": 3}
    state = served.simulator.state("suite")
    (contact,) = state["contacts"]
    names = {a["id"]: a["name"] for a in state["sales_accounts"]}
    linked = {names[link["id"]]: link["is_primary"] for link in contact["sales_accounts"]}
    assert linked == {"Example.com": True, "Grouped": False}


async def test_a_lead_capture_form_and_a_changed_email_are_one_record_each(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    events = [
        # A form with no account behind it: the anonymousId and the email.
        (
            b"v-1",
            {"type": "identify", "anonymousId": "v-1", "traits": {"email": "lead@acme.example"}},
        ),
        (b"u-9", {"type": "identify", "userId": "u-9", "traits": {"email": "old@example.org"}}),
        (b"u-9", {"type": "identify", "userId": "u-9", "traits": {"email": "new@example.org"}}),
        (b"u-9", {"type": "track", "userId": "u-9", "event": "Plan Changed"}),
    ]
    await produce_keyed(kafka_topic, [(k, orjson.dumps(e)) for k, e in events])
    settings = settings_for(kafka_topic, served, COALESCE_IDENTIFIES="false")
    async with service_running(settings) as run:
        await run.until_finished(4)
        stats = run.service.stats
    assert stats.dead_letters == {}
    people = contacts_by_email(served)
    assert set(people) == {"lead@acme.example", "new@example.org"}
    assert people["lead@acme.example"].get("external_id") in (None, "")
    assert people["new@example.org"]["external_id"] == "u-9"
    (activity,) = served.simulator.state("suite")["sales_activities"]
    assert activity["targetable_id"] == people["new@example.org"]["id"]
