"""Rule 5: create, read, partial update and delete of contacts, accounts, deals (and leads)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.conftest import Api, FakeClock

MODULES = [
    ("suite", "contacts", "contact", {"emails": "ada@example.com"}, {"first_name": "Ada"}),
    ("suite", "sales_accounts", "sales_account", {"name": "Acme"}, {"city": "Leeds"}),
    ("suite", "deals", "deal", {"name": "Big deal", "amount": 10}, {"amount": 20}),
    ("classic", "leads", "lead", {"emails": "ada@example.com"}, {"first_name": "Ada"}),
]


@pytest.mark.parametrize(("flavor", "module", "singular", "fields", "change"), MODULES)
async def test_a_record_can_be_created_read_updated_and_deleted(
    api: Api,
    clock: FakeClock,
    flavor: str,
    module: str,
    singular: str,
    fields: dict[str, Any],
    change: dict[str, Any],
) -> None:
    created = await api.post(module, {singular: fields}, flavor=flavor)
    ident = created.body[singular]["id"]
    clock.advance(90)
    updated = await api.put(f"{module}/{ident}", {singular: change}, flavor=flavor)
    read = await api.get(f"{module}/{ident}", flavor=flavor)
    deleted = await api.delete(f"{module}/{ident}", flavor=flavor)
    gone = await api.get(f"{module}/{ident}", flavor=flavor)

    assert created.status == 200
    assert updated.status == 200
    assert read.body == updated.body
    record = read.body[singular]
    assert {k: record[k] for k in change} == change
    assert record["created_at"] == created.body[singular]["created_at"]
    assert record["updated_at"] != record["created_at"]
    assert (deleted.status, deleted.body) == (200, True)
    assert gone.status == 404


async def test_an_update_changes_only_the_fields_it_sends(api: Api) -> None:
    created = await api.post(
        "contacts",
        {
            "contact": {
                "first_name": "Ada",
                "last_name": "Byron",
                "emails": "ada@example.com",
                "custom_field": {"cf_plan": "Pro", "cf_alternate_number": "1"},
            }
        },
    )
    ident = created.body["contact"]["id"]

    updated = await api.put(
        f"contacts/{ident}",
        {"contact": {"last_name": "Lovelace", "custom_field": {"cf_alternate_number": "2"}}},
    )

    contact = updated.body["contact"]
    assert (contact["first_name"], contact["last_name"]) == ("Ada", "Lovelace")
    assert contact["email"] == "ada@example.com"
    assert contact["custom_field"] == {"cf_plan": "Pro", "cf_alternate_number": "2"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_a_missing_record_is_a_404(api: Api, method: str) -> None:
    body = {"deal": {"amount": 1}} if method == "PUT" else None
    answer = await api.call(method, "deals/70000000999", body)

    assert (answer.status, answer.errors) == (404, ["Deal 70000000999 not found"])


async def test_ids_are_sequential_large_integers_per_account(api: Api) -> None:
    first = await api.account("One")
    second = await api.account("Two")
    classic = await api.account("One", flavor="classic")

    assert (first, second) == (70_000_000_001, 70_000_000_002)
    assert classic == 71_000_000_001


async def test_creates_answer_201_when_configured(make_api) -> None:
    api = await make_api(create_status=201)

    created = await api.post("sales_accounts", {"sales_account": {"name": "Acme"}})
    upsert_created = await api.post(
        "sales_accounts/upsert", {"unique_identifier": {"name": "Beta"}, "sales_account": {}}
    )
    upsert_updated = await api.post(
        "sales_accounts/upsert", {"unique_identifier": {"name": "Beta"}, "sales_account": {}}
    )

    assert (created.status, upsert_created.status, upsert_updated.status) == (201, 201, 200)


async def test_deleting_an_account_unlinks_it_from_contacts_and_deals(api: Api) -> None:
    account = await api.account("Acme")
    person = await api.post(
        "contacts",
        {"contact": {"emails": "a@b.co", "sales_accounts": [{"id": account, "is_primary": True}]}},
    )
    deal = await api.post("deals", {"deal": {"name": "D", "sales_account_id": account}})

    await api.delete(f"sales_accounts/{account}")

    contact = await api.get(f"contacts/{person.body['contact']['id']}?include=sales_accounts")
    assert contact.body["contact"]["sales_accounts"] == []
    after = await api.get(f"deals/{deal.body['deal']['id']}")
    assert after.body["deal"]["sales_account_id"] is None


async def test_a_new_deal_takes_the_first_stage_of_its_pipeline(api: Api) -> None:
    renewals = await api.seeded("deal_pipelines", "Renewals")
    stages = (await api.get(f"selector/deal_pipelines/{renewals}/deal_stages")).body["deal_stages"]

    deal = await api.post("deals", {"deal": {"name": "Renewal", "deal_pipeline_id": renewals}})

    assert deal.body["deal"]["deal_stage_id"] == stages[0]["id"]
    assert {s["deal_pipeline_id"] for s in stages} == {renewals}


async def test_an_unknown_pipeline_has_no_stages(api: Api) -> None:
    answer = await api.get("selector/deal_pipelines/1/deal_stages")

    assert (answer.status, answer.errors) == (404, ["Deal pipeline 1 not found"])
