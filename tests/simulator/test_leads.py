"""Rule 8, Classic: a lead's nested ``company`` and ``deal`` objects become linked records."""

from __future__ import annotations

from typing import Any

from tests.simulator.conftest import Api

SEED_LEAD: dict[str, Any] = {
    "unique_identifier": {"emails": "john.doe@example.com"},
    "lead": {
        "first_name": "John",
        "last_name": "Doe",
        "emails": "john.doe@example.com",
        "external_id": "97980cfea0067",
        "custom_field": {"cf_alternate_number": "98765432"},
        "company": {"name": "Example.com", "website": "https://example.com"},
        "deal": {"name": "Sample Deal", "amount": 1234},
    },
}


async def test_a_lead_upsert_creates_and_links_its_company_and_deal(api: Api) -> None:
    answer = await api.post("leads/upsert", SEED_LEAD, flavor="classic")

    assert answer.status == 200
    lead = answer.body["lead"]
    state = api.sim.state("classic")
    (account,) = state["sales_accounts"]
    (deal,) = state["deals"]
    assert lead["company"] == {"id": account["id"], "name": "Example.com"}
    assert lead["deal"] == {"id": deal["id"], "name": "Sample Deal", "amount": 1234}
    assert account["website"] == "https://example.com"
    assert deal["sales_account_id"] == account["id"]
    assert lead["custom_field"] == {"cf_alternate_number": "98765432"}


async def test_repeating_the_lead_upsert_reuses_its_company_and_deal(api: Api) -> None:
    first = await api.post("leads/upsert", SEED_LEAD, flavor="classic")
    again = {
        **SEED_LEAD,
        "lead": {**SEED_LEAD["lead"], "deal": {"name": "Sample Deal", "amount": 99}},
    }
    second = await api.post("leads/upsert", again, flavor="classic")

    assert second.body["lead"]["id"] == first.body["lead"]["id"]
    state = api.sim.state("classic")
    assert (len(state["leads"]), len(state["sales_accounts"]), len(state["deals"])) == (1, 1, 1)
    assert state["deals"][0]["amount"] == 99


async def test_a_nested_company_needs_a_name_and_known_fields(api: Api) -> None:
    body = {
        "unique_identifier": {"emails": "a@b.co"},
        "lead": {"company": {"website": "x", "colour": "red"}, "deal": "Big"},
    }

    answer = await api.post("leads/upsert", body, flavor="classic")

    assert answer.status == 400
    assert answer.errors == [
        "Company: Unknown field 'company.colour'; Name can't be blank",
        "Deal must be an object",
    ]
    assert api.sim.state("classic")["sales_accounts"] == []


async def test_a_refused_lead_leaves_no_company_behind(api: Api) -> None:
    await api.post("leads", {"lead": {"emails": "a@b.co", "external_id": "u-1"}}, flavor="classic")

    answer = await api.post(
        "leads",
        {"lead": {"emails": "c@d.co", "external_id": "u-1", "company": {"name": "Acme"}}},
        flavor="classic",
    )

    assert (answer.status, answer.errors) == (400, ["External ID has already been taken"])
    assert api.sim.state("classic")["sales_accounts"] == []


async def test_classic_contacts_have_no_lifecycle_stage(api: Api) -> None:
    stage = await api.seeded("lifecycle_stages", "Lead", flavor="classic")

    answer = await api.post(
        "contacts", {"contact": {"emails": "a@b.co", "lifecycle_stage_id": stage}}, flavor="classic"
    )

    assert (answer.status, answer.errors) == (400, ["Unknown field 'lifecycle_stage_id'"])
