"""Rule 9: a sales activity needs its title, type, dates, owner and an existing target."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.conftest import Api


async def activity(api: Api, flavor: str = "suite", **overrides: Any) -> dict[str, Any]:
    person = await api.person("ada@example.com", flavor=flavor)
    fields = {
        "title": "Order Completed",
        "sales_activity_type_id": await api.seeded("sales_activity_types", "Segment Event", flavor),
        "start_date": "2026-11-02T10:03:00+00:00",
        "end_date": "2026-11-02T10:03:00+00:00",
        "owner_id": await api.seeded("owners", flavor=flavor),
        "targetable_type": "Contact",
        "targetable_id": person,
        "notes": "orderId: 5031\ntotal: 27.5",
    }
    return {"sales_activity": {**fields, **overrides}}


async def test_a_complete_activity_on_a_contact_is_created(api: Api) -> None:
    body = await activity(api)

    answer = await api.post("sales_activities", body)

    assert answer.status == 200
    created = answer.body["sales_activity"]
    assert created["title"] == "Order Completed"
    assert created["targetable_id"] == body["sales_activity"]["targetable_id"]
    assert created["start_date"] == "2026-11-02T06:03:00-04:00"  # the account's offset
    fetched = await api.get(f"sales_activities/{created['id']}")
    listed = await api.get("sales_activities")
    assert fetched.body == answer.body
    assert listed.body["sales_activities"] == [created]
    assert listed.body["meta"] == {"total_pages": 1, "total": 1}


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("title", "Title"),
        ("sales_activity_type_id", "Activity type"),
        ("start_date", "Start date"),
        ("end_date", "End date"),
        ("owner_id", "Owner"),
        ("targetable_type", "Targetable type"),
        ("targetable_id", "Targetable"),
    ],
)
async def test_each_required_field_missing_is_a_400(api: Api, field: str, label: str) -> None:
    body = await activity(api)
    del body["sales_activity"][field]

    answer = await api.post("sales_activities", body)

    assert (answer.status, answer.errors) == (400, [f"{label} can't be blank"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sales_activity_type_id": 5}, "Activity type 5 does not exist"),
        ({"sales_activity_type_id": None}, "Activity type can't be blank"),
        ({"owner_id": 5}, "Owner 5 does not exist"),
        (
            {"start_date": "2026-11-02T10:03:00"},
            "Start date must be an ISO 8601 date-time with a UTC offset",
        ),
        ({"end_date": "yesterday"}, "End date must be an ISO 8601 date-time with a UTC offset"),
        ({"end_date": "2026-11-02T09:00:00+00:00"}, "End date must not be before the start date"),
        (
            {"targetable_type": "Lead"},
            "Targetable type must be one of: Contact, SalesAccount, Deal",
        ),
        (
            {"targetable_type": "contact"},
            "Targetable type must be one of: Contact, SalesAccount, Deal",
        ),
        ({"targetable_id": 70000000999}, "Targetable Contact 70000000999 does not exist"),
        ({"targetable_type": "Deal"}, "Targetable Deal 70000000001 does not exist"),
        ({"sales_activity_outcome_id": 1}, "Outcome 1 does not exist"),
        ({"sales_activity_name": "x"}, "Unknown field 'sales_activity_name'"),
        ({"title": ""}, "Title can't be blank"),
    ],
)
async def test_a_bad_activity_field_is_a_400_with_its_message(
    api: Api, change: dict[str, Any], message: str
) -> None:
    body = await activity(api, **change)

    answer = await api.post("sales_activities", body)

    assert (answer.status, answer.errors) == (400, [message])
    assert api.sim.state()["sales_activities"] == []


async def test_an_activity_may_target_an_account_or_a_deal(api: Api) -> None:
    account = await api.account("Acme")
    deal = (await api.post("deals", {"deal": {"name": "D"}})).body["deal"]["id"]

    on_account = await api.post(
        "sales_activities",
        await activity(api, targetable_type="SalesAccount", targetable_id=account),
    )
    on_deal = await api.post(
        "sales_activities", await activity(api, targetable_type="Deal", targetable_id=str(deal))
    )

    assert (on_account.status, on_deal.status) == (200, 200)
    assert on_deal.body["sales_activity"]["targetable_id"] == deal


async def test_classic_activities_may_target_a_lead(api: Api) -> None:
    lead = await api.person("lead@example.com", flavor="classic", module="leads")

    answer = await api.post(
        "sales_activities",
        await activity(api, "classic", targetable_type="Lead", targetable_id=lead),
        flavor="classic",
    )

    assert answer.status == 200
    assert answer.body["sales_activity"]["start_date"] == "2026-11-02T10:03:00Z"


async def test_an_activity_update_is_checked_against_the_stored_dates(api: Api) -> None:
    created = await api.post("sales_activities", await activity(api))
    ident = created.body["sales_activity"]["id"]

    moved = await api.put(
        f"sales_activities/{ident}", {"sales_activity": {"end_date": "2026-11-02T12:00:00+01:00"}}
    )
    backwards = await api.put(
        f"sales_activities/{ident}", {"sales_activity": {"end_date": "2026-11-01T00:00:00+00:00"}}
    )

    assert moved.status == 200
    assert (backwards.status, backwards.errors) == (
        400,
        ["End date must not be before the start date"],
    )
