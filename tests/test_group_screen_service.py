"""group, screen and the event filters through the real service, broker and simulator, on both
flavours: the issue's "done when", as a user of Segment's libraries would send it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from consumer.freshsales.client import ClientOptions, FreshsalesClient
from sandbox.simulator import RunningSimulator, Simulator, SimulatorConfig, running
from tests.kafka_support import KafkaTopic
from tests.service_support import API_KEY, produce, service_running, settings_for

FILTERS = {
    "EVENTS_INCLUDE": "identify,group,screen,page,track:Email *",
    "EVENTS_EXCLUDE": "page:Admin*",
}
AT = "2026-11-02T10:00:00Z"
GLOBEX = {"name": "Globex", "employees": 250, "industry": "software", "plan": "enterprise"}


@pytest.fixture
async def served() -> AsyncIterator[RunningSimulator]:
    async with running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served:
        yield served


async def person_with_an_account_of_their_own(served: RunningSimulator, flavor: str) -> None:
    """Ada, already a contact in Freshsales with an account the service never heard of."""
    base = served.base_url(flavor)
    async with FreshsalesClient(base, API_KEY, ClientOptions(pool_size=1)) as client:
        legacy = await client.call(
            "POST",
            "sales_accounts/upsert",
            {"unique_identifier": {"name": "Legacy"}, "sales_account": {"name": "Legacy"}},
        )
        account = legacy.body["sales_account"]
        assert isinstance(account, dict)
        links = [{"id": account["id"], "is_primary": True}]
        contact = {"emails": "ada@acme.example", "sales_accounts": links}
        await client.call(
            "POST",
            "contacts/upsert",
            {"unique_identifier": {"emails": "ada@acme.example"}, "contact": contact},
        )


def events(flavor: str) -> list[dict[str, Any]]:
    identify_traits: dict[str, Any] = {"email": "ada@acme.example", "company": {"name": "Acme"}}
    if flavor == "classic":
        identify_traits["fsContact"] = True  # a Classic contact has accounts; a lead, a company
    ada = {"userId": "ada", "timestamp": AT}
    return [
        {**ada, "type": "identify", "messageId": "m-1", "traits": identify_traits},
        {**ada, "type": "group", "messageId": "m-2", "groupId": "grp-1", "traits": GLOBEX},
        {**ada, "type": "group", "messageId": "m-3", "groupId": "grp-1", "traits": GLOBEX},
        {**ada, "type": "group", "messageId": "m-4", "traits": {"employees": 3}},
        {
            **ada,
            "type": "screen",
            "messageId": "m-5",
            "name": "Dashboard",
            "properties": {"feature": "charts"},
        },
        {**ada, "type": "track", "messageId": "m-6", "event": "Order Completed"},
        {**ada, "type": "page", "messageId": "m-7", "name": "Admin Console"},
        {**ada, "type": "track", "messageId": "m-8", "event": "Email Opened"},
        # A Classic lead gets the group as its company (Suite has no leads of that kind).
        {"type": "identify", "messageId": "m-9", "userId": "cy", "traits": {"email": "cy@x.org"}},
        {"type": "group", "messageId": "m-10", "userId": "cy", "traits": {"name": "Globex"}},
    ]


@pytest.mark.parametrize("flavor", ["suite", "classic"])
async def test_group_screen_and_filters_deliver_what_the_issue_asks(
    kafka_topic: KafkaTopic, served: RunningSimulator, flavor: str
) -> None:
    await person_with_an_account_of_their_own(served, flavor)
    sent = events(flavor)
    await produce(kafka_topic, [orjson.dumps(e) for e in sent], key=b"one-partition")
    settings = settings_for(kafka_topic, served, flavor, **FILTERS)
    async with service_running(settings) as run:
        await run.until_finished(len(sent))
        stats = run.service.stats
    simulator = served.simulator
    state = simulator.state(flavor)

    # The group's account, with its traits mapped, upserted once: the repeat changed nothing.
    accounts = {a["name"]: a for a in state["sales_accounts"]}
    software = next(
        t["id"]
        for t in simulator.account(flavor).seed.selectors["industry_types"]
        if t["name"] == "Software"
    )
    globex = accounts["Globex"]
    assert (globex["number_of_employees"], globex["industry_type_id"]) == (250, software)
    # Ada keeps the account she had; identify's company is her primary one, the group's is not.
    (ada,) = [c for c in state["contacts"] if c["email"] == "ada@acme.example"]
    names = {a["id"]: name for name, a in accounts.items()}
    linked = {names[a["id"]]: a["is_primary"] for a in ada["sales_accounts"]}
    assert linked == {"Legacy": False, "Acme": True, "Globex": False}
    # One call for the account, one for the link; the repeated group found both in place.
    account_writes = [
        r
        for r in simulator.requests
        if r.path.endswith("/sales_accounts/upsert")
        and r.body["sales_account"].get("number_of_employees") == 250
    ]
    ada_links = [r for r in simulator.requests if r.path.endswith(f"/contacts/{ada['id']}")]
    assert (len(account_writes), len(ada_links)) == (1, 2)  # links: Acme, then Globex
    if flavor == "classic":
        (cy,) = state["leads"]
        assert cy["company"]["name"] == "Globex"
    else:
        (cy,) = [c for c in state["contacts"] if c["email"] == "cy@x.org"]
        assert [(names[a["id"]], a["is_primary"]) for a in cy["sales_accounts"]] == [
            ("Globex", True)  # a person with no account gets the group's as the primary one
        ]

    # The nameless group is dead-lettered; the filtered events are not, and cost no call.
    assert stats.dead_letters["missing_group_name"] == 1
    assert sum(stats.dead_letters.values()) == 1
    assert stats.by_type["track", "filtered"] == stats.by_type["page", "filtered"] == 1
    titles = sorted(a["title"] for a in state["sales_activities"])
    assert titles == ["Email Opened", "Viewed Dashboard screen"]
    screen = next(a for a in state["sales_activities"] if a["title"].endswith("screen"))
    assert screen["notes"] == "feature: charts\nmessageId: m-5"
    assert stats.by_type["screen", "delivered"] == 1
    assert stats.by_type["group", "delivered"] == 3  # Globex twice for Ada, once for Cy
