"""Rule 13: a DELETE sends a record to the recycle bin; a forget purges it with its activities."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.simulator import Fault
from tests.simulator.conftest import Api, FakeClock, MakeApi
from tests.simulator.test_activities import activity

MODULES = [
    ("suite", "contacts", "contact", {"emails": "ada@example.com"}),
    ("suite", "sales_accounts", "sales_account", {"name": "Acme"}),
    ("suite", "deals", "deal", {"name": "Big deal"}),
    ("classic", "contacts", "contact", {"emails": "ada@example.com"}),
    ("classic", "leads", "lead", {"emails": "ada@example.com"}),
]
TARGET_TYPES = {"contacts": "Contact", "sales_accounts": "SalesAccount", "deals": "Deal"}


async def created(api: Api, flavor: str, module: str, singular: str, fields: Any) -> int:
    answer = await api.post(module, {singular: fields}, flavor=flavor)
    assert answer.status == 200, answer.body
    return int(answer.body[singular]["id"])


@pytest.mark.parametrize(("flavor", "module", "singular", "fields"), MODULES)
async def test_a_deleted_record_leaves_its_module_for_the_recycle_bin(
    api: Api, clock: FakeClock, flavor: str, module: str, singular: str, fields: Any
) -> None:
    ident = await created(api, flavor, module, singular, fields)
    clock.advance(60)

    deleted = await api.delete(f"{module}/{ident}", flavor=flavor)

    assert (deleted.status, deleted.body) == (200, True)
    assert (await api.get(f"{module}/{ident}", flavor=flavor)).status == 404
    assert (await api.put(f"{module}/{ident}", {singular: {}}, flavor=flavor)).status == 404
    assert (await api.get(module, flavor=flavor)).body[module] == []
    state = api.sim.state(flavor)
    assert state[module] == []
    (binned,) = state["recycle_bin"]
    assert (binned["module"], binned["record"]["id"]) == (module, ident)
    assert binned["deleted_at"] != binned["record"]["created_at"]


async def test_a_deleted_contact_frees_its_email_for_a_new_record(api: Api) -> None:
    first = await api.person("ada@example.com")
    await api.delete(f"contacts/{first}")

    again = await api.person("ADA@example.com")
    created_plainly = await api.post("contacts", {"contact": {"emails": "bob@example.com"}})
    await api.delete(f"contacts/{created_plainly.body['contact']['id']}")
    recreated = await api.post("contacts", {"contact": {"emails": "bob@example.com"}})

    assert again != first  # a new record, while the old one sits in the bin
    assert recreated.status == 200
    state = api.sim.state()
    assert [c["id"] for c in state["contacts"]] == [again, recreated.body["contact"]["id"]]
    assert [e["record"]["email"] for e in state["recycle_bin"]] == [
        "ada@example.com",
        "bob@example.com",
    ]


async def test_a_record_in_the_bin_cannot_be_deleted_again(api: Api) -> None:
    person = await api.person("ada@example.com")
    await api.delete(f"contacts/{person}")

    again = await api.delete(f"contacts/{person}")

    assert (again.status, again.errors) == (404, [f"Contact {person} not found"])
    assert len(api.sim.state()["recycle_bin"]) == 1


async def test_a_deleted_sales_activity_is_removed_without_a_bin(api: Api) -> None:
    made = await api.post("sales_activities", await activity(api))

    deleted = await api.delete(f"sales_activities/{made.body['sales_activity']['id']}")

    assert (deleted.status, deleted.body) == (200, True)
    assert api.sim.state()["sales_activities"] == []
    assert api.sim.state()["recycle_bin"] == []


async def test_forget_purges_a_contact_and_its_activities_and_keeps_its_accounts_and_deals(
    api: Api,
) -> None:
    account = await api.account("Acme")
    link = [{"id": account, "is_primary": True}]
    ada = await created(
        api, "suite", "contacts", "contact", {"emails": "ada@example.com", "sales_accounts": link}
    )
    bob = await api.person("bob@example.com")
    deal = await created(
        api, "suite", "deals", "deal", {"name": "D", "contacts_added_list": [ada, bob]}
    )
    for target_type, target in [("Contact", ada), ("Contact", bob), ("Deal", deal)]:
        body = await activity(api, targetable_type=target_type, targetable_id=target)
        assert (await api.post("sales_activities", body)).status == 200

    forgotten = await api.delete(f"contacts/{ada}/forget")

    assert (forgotten.status, forgotten.body) == (200, {"result": True})
    assert (await api.get(f"contacts/{ada}")).status == 404
    state = api.sim.state()
    assert [c["id"] for c in state["contacts"]] == [bob]
    assert state["recycle_bin"] == []
    targets = [(a["targetable_type"], a["targetable_id"]) for a in state["sales_activities"]]
    assert targets == [("Contact", bob), ("Deal", deal)]
    assert [a["id"] for a in state["sales_accounts"]] == [account]
    (kept,) = state["deals"]
    assert (kept["id"], kept["contact_ids"]) == (deal, [bob])


async def test_a_record_in_the_bin_can_be_forgotten_with_its_activities(api: Api) -> None:
    body = await activity(api)
    person = body["sales_activity"]["targetable_id"]
    await api.post("sales_activities", body)
    await api.delete(f"contacts/{person}")

    forgotten = await api.delete(f"contacts/{person}/forget")

    assert (forgotten.status, forgotten.body) == (200, {"result": True})
    state = api.sim.state()
    assert (state["recycle_bin"], state["sales_activities"]) == ([], [])


@pytest.mark.parametrize(("flavor", "module", "singular", "fields"), MODULES)
async def test_each_crm_record_can_be_forgotten_with_the_activities_about_it(
    api: Api, flavor: str, module: str, singular: str, fields: Any
) -> None:
    ident = await created(api, flavor, module, singular, fields)
    target_type = "Lead" if module == "leads" else TARGET_TYPES[module]
    about = await activity(api, flavor, targetable_type=target_type, targetable_id=ident)
    assert (await api.post("sales_activities", about, flavor=flavor)).status == 200

    forgotten = await api.delete(f"{module}/{ident}/forget", flavor=flavor)

    assert (forgotten.status, forgotten.body) == (200, {"result": True})
    state = api.sim.state(flavor)
    assert ident not in [r["id"] for r in state[module]]
    assert [a["targetable_id"] for a in state["sales_activities"]] == []


async def test_forgetting_a_lead_keeps_its_company_and_deal(api: Api) -> None:
    body = {
        "unique_identifier": {"emails": "ada@example.com"},
        "lead": {"company": {"name": "Acme"}, "deal": {"name": "D"}},
    }
    lead = (await api.post("leads/upsert", body, flavor="classic")).body["lead"]

    await api.delete(f"leads/{lead['id']}/forget", flavor="classic")

    state = api.sim.state("classic")
    assert [a["id"] for a in state["sales_accounts"]] == [lead["company"]["id"]]
    assert [d["id"] for d in state["deals"]] == [lead["deal"]["id"]]


@pytest.mark.parametrize(("flavor", "module", "singular", "fields"), MODULES)
async def test_forgetting_an_unknown_or_already_forgotten_id_is_a_404(
    api: Api, flavor: str, module: str, singular: str, fields: Any
) -> None:
    ident = await created(api, flavor, module, singular, fields)
    await api.delete(f"{module}/{ident}/forget", flavor=flavor)

    again = await api.delete(f"{module}/{ident}/forget", flavor=flavor)
    unknown = await api.delete(f"{module}/99/forget", flavor=flavor)

    label = singular.replace("_", " ").capitalize()
    assert (again.status, again.errors) == (404, [f"{label} {ident} not found"])
    assert (unknown.status, unknown.errors) == (404, [f"{label} 99 not found"])


async def test_when_forgetting_is_barred_forget_is_a_403_and_delete_still_works(
    make_api: MakeApi,
) -> None:
    api = await make_api(forget_allowed=False)
    person = await api.person("ada@example.com")

    refused = await api.delete(f"contacts/{person}/forget")
    refused_lead = await api.delete("leads/1/forget", flavor="classic")
    deleted = await api.delete(f"contacts/{person}")

    message = ["The API key's user is not allowed to forget records"]
    assert (refused.status, refused.errors) == (403, message)
    assert (refused_lead.status, refused_lead.errors) == (403, message)
    assert (deleted.status, deleted.body) == (200, True)
    assert [e["record"]["id"] for e in api.sim.state()["recycle_bin"]] == [person]


async def test_a_limited_key_cannot_delete_or_forget_in_a_forbidden_module(
    make_api: MakeApi,
) -> None:
    api = await make_api(limited_keys={"no-contacts": frozenset({"contacts"})})
    person = await api.person("ada@example.com")
    limited = {"Authorization": "Token token=no-contacts"}

    deleted = await api.delete(f"contacts/{person}", headers=limited)
    forgotten = await api.delete(f"contacts/{person}/forget", headers=limited)

    assert (deleted.status, deleted.errors) == (403, ["This API key has no access to contacts"])
    assert (forgotten.status, forgotten.errors) == (403, ["This API key has no access to contacts"])
    assert len(api.sim.state()["contacts"]) == 1


@pytest.mark.parametrize(
    ("flavor", "method", "path", "status"),
    [
        ("suite", "DELETE", "sales_activities/1/forget", 404),
        ("suite", "DELETE", "leads/1/forget", 404),
        ("suite", "DELETE", "contacts/abc/forget", 404),
        ("suite", "GET", "contacts/1/forget", 405),
    ],
)
async def test_forget_is_a_delete_on_contacts_accounts_deals_and_classic_leads_only(
    api: Api, flavor: str, method: str, path: str, status: int
) -> None:
    answer = await api.call(method, path, flavor=flavor)

    assert answer.status == status
    if status == 405:
        assert answer.headers["Allow"] == "DELETE"


async def test_a_faulted_forget_purges_nothing(api: Api) -> None:
    person = await api.person("ada@example.com")
    api.sim.inject(Fault(status=503))

    faulted = await api.delete(f"contacts/{person}/forget")

    assert faulted.status == 503
    assert [c["id"] for c in api.sim.state()["contacts"]] == [person]
    assert (await api.delete(f"contacts/{person}/forget")).status == 200
