"""Rule 14: finding people by email (filtered search) or by one exact value (lookup)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.conftest import Api, FakeClock, MakeApi


def by_email(*emails: str, attribute: str = "contact_email.email") -> dict[str, Any]:
    return {"filter_rule": [{"attribute": attribute, "operator": "is_in", "value": list(emails)}]}


async def two_emails(
    api: Api, primary: str, other: str, flavor: str = "suite", module: str = "contacts"
) -> int:
    """A person with a primary and another email, and an external id made of the primary."""
    singular = module.removesuffix("s")
    body = {singular: {"emails": [primary, other], "external_id": f"user-{primary}"}}
    answer = await api.post(module, body, flavor=flavor)
    assert answer.status == 200, answer.body
    return int(answer.body[singular]["id"])


async def test_filtered_search_finds_contacts_by_any_email_ignoring_case(api: Api) -> None:
    ada = await two_emails(api, "ada@example.com", "ada@work.example")
    await api.person("bob@example.com")

    by_primary = await api.post("filtered_search/contact", by_email("ADA@example.com"))
    by_other = await api.post("filtered_search/contact", by_email("Ada@Work.example"))

    assert by_primary.status == 200
    assert [c["id"] for c in by_primary.body["contacts"]] == [ada]
    assert by_primary.body["meta"] == {"total": 1}
    assert by_other.body == by_primary.body
    assert by_primary.body["contacts"][0] == (await api.get(f"contacts/{ada}")).body["contact"]


async def test_filtered_search_answers_every_match_once_and_none_for_unknown_emails(
    api: Api,
) -> None:
    ada = await api.person("ada@example.com")
    bob = await api.person("bob@example.com")

    both = await api.post(
        "filtered_search/contact", by_email("ada@example.com", "bob@example.com", "ada@example.com")
    )
    nobody = await api.post("filtered_search/contact", by_email("eve@example.com"))

    assert [c["id"] for c in both.body["contacts"]] == [ada, bob]
    assert both.body["meta"] == {"total": 2}
    assert nobody.body == {"contacts": [], "meta": {"total": 0}}


async def test_filtered_search_does_not_find_records_in_the_bin(api: Api) -> None:
    ada = await api.person("ada@example.com")
    await api.delete(f"contacts/{ada}")

    answer = await api.post("filtered_search/contact", by_email("ada@example.com"))

    assert answer.body == {"contacts": [], "meta": {"total": 0}}


async def test_filtered_search_embeds_accounts_when_asked(api: Api) -> None:
    account = await api.account("Acme")
    link = [{"id": account, "is_primary": True}]
    await api.post("contacts", {"contact": {"emails": "ada@example.com", "sales_accounts": link}})

    answer = await api.post(
        "filtered_search/contact?include=sales_accounts", by_email("ada@example.com")
    )

    (contact,) = answer.body["contacts"]
    assert [(a["id"], a["is_primary"]) for a in contact["sales_accounts"]] == [(account, True)]


async def test_classic_finds_leads_by_lead_email_and_contacts_by_contact_email(api: Api) -> None:
    lead = await two_emails(api, "lead@example.com", "lead@work.example", "classic", "leads")
    contact = await api.person("lead@example.com", flavor="classic")

    leads = await api.post(
        "filtered_search/lead",
        by_email("LEAD@work.example", attribute="lead_email.email"),
        flavor="classic",
    )
    contacts = await api.post(
        "filtered_search/contact", by_email("lead@example.com"), flavor="classic"
    )

    assert [r["id"] for r in leads.body["leads"]] == [lead]
    assert leads.body["meta"] == {"total": 1}
    assert [r["id"] for r in contacts.body["contacts"]] == [contact]


@pytest.mark.parametrize("entity", ["lead", "sales_account", "deal"])
async def test_suite_serves_no_filtered_search_but_contacts(api: Api, entity: str) -> None:
    answer = await api.post(f"filtered_search/{entity}", by_email("a@b.co"))

    assert (answer.status, answer.errors) == (404, [f"No such resource: filtered_search/{entity}"])


RULE = {"attribute": "contact_email.email", "operator": "is_in", "value": ["a@b.co"]}
FIELDS = ("email", "mobile_number", "external_id")
SHAPE = "filter_rule must be a non-empty list of {attribute, operator, value} objects"


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({}, ["filter_rule can't be blank"]),
        ({"filter_rule": RULE}, [SHAPE]),
        ({"filter_rule": []}, [SHAPE]),
        ({"filter_rule": [RULE], "page": 1}, ["Unknown parameter 'page'"]),
        (
            {"filter_rule": [{**RULE, "attribute": "lead_email.email"}]},
            ["filter_rule[0]: unknown attribute 'lead_email.email' (contact_email.email)"],
        ),
        (
            {"filter_rule": [{**RULE, "operator": "is"}]},
            ["filter_rule[0]: unknown operator 'is' (is_in)"],
        ),
        (
            {"filter_rule": [{**RULE, "value": "a@b.co"}]},
            ["filter_rule[0]: value must be a list of emails"],
        ),
        (
            {"filter_rule": [RULE, {"attribute": "name", "value": [1], "sort": "x"}]},
            [
                "filter_rule[1]: unknown key 'sort'",
                "filter_rule[1]: unknown attribute 'name' (contact_email.email)",
                "filter_rule[1]: unknown operator None (is_in)",
                "filter_rule[1]: value must be a list of emails",
            ],
        ),
    ],
    ids=[
        "no-filter-rule",
        "rule-not-in-a-list",
        "empty-list",
        "unknown-parameter",
        "unknown-attribute",
        "unknown-operator",
        "value-not-a-list",
        "every-mistake-of-a-rule",
    ],
)
async def test_a_malformed_filtered_search_is_a_400_naming_each_mistake(
    api: Api, body: dict[str, Any], messages: list[str]
) -> None:
    answer = await api.post("filtered_search/contact", body)

    assert (answer.status, answer.errors) == (400, messages)


async def test_lookup_finds_people_by_one_exact_value_per_entity(api: Api) -> None:
    contact = await two_emails(api, "ada@example.com", "ada@work.example", flavor="classic")
    await api.person("bob@example.com", flavor="classic")
    lead = await api.person("ADA@work.example", flavor="classic", module="leads")

    by_email = await api.get(
        "lookup?q=ada@WORK.example&f=email&entities=contact,lead", flavor="classic"
    )
    by_id = await api.get(
        "lookup?q=user-ada@example.com&f=external_id&entities=contact", flavor="classic"
    )

    assert by_email.status == 200
    assert [c["id"] for c in by_email.body["contacts"]["contacts"]] == [contact]
    assert [r["id"] for r in by_email.body["leads"]["leads"]] == [lead]
    assert by_id.body == {"contacts": {"contacts": by_email.body["contacts"]["contacts"]}}


async def test_lookup_does_not_find_records_in_the_bin(api: Api) -> None:
    ada = await api.person("ada@example.com")
    await api.delete(f"contacts/{ada}")

    answer = await api.get("lookup?q=ada@example.com&f=email&entities=contact")

    assert answer.body == {"contacts": {"contacts": []}}


@pytest.mark.parametrize(
    ("query", "messages"),
    [
        ("q=a@b.co&f=email", ["entities can't be blank (contact, lead)"]),
        ("q=a@b.co&f=email&entities=contact,lead", ["Unknown entity 'lead'"]),
        ("q=a@b.co&f=name&entities=contact", [f"f must be one of: {', '.join(FIELDS)}"]),
        ("f=email&entities=contact", ["q can't be blank"]),
    ],
    ids=["no-entities", "lead-on-suite", "unknown-field", "no-value"],
)
async def test_a_malformed_lookup_is_a_400(api: Api, query: str, messages: list[str]) -> None:
    answer = await api.get(f"lookup?{query}")

    assert (answer.status, answer.errors) == (400, messages)


async def test_a_limited_key_searches_only_the_modules_it_may_touch(make_api: MakeApi) -> None:
    api = await make_api(limited_keys={"no-leads": frozenset({"leads"})})
    limited = {"Authorization": "Token token=no-leads"}

    search = await api.post(
        "filtered_search/lead",
        by_email("a@b.co", attribute="lead_email.email"),
        flavor="classic",
        headers=limited,
    )
    lookup = await api.get(
        "lookup?q=a@b.co&f=email&entities=contact,lead", flavor="classic", headers=limited
    )
    allowed = await api.get(
        "lookup?q=a@b.co&f=email&entities=contact", flavor="classic", headers=limited
    )

    assert (search.status, search.errors) == (403, ["This API key has no access to leads"])
    assert (lookup.status, lookup.errors) == (403, ["This API key has no access to leads"])
    assert allowed.status == 200


async def test_forget_and_search_calls_are_logged_and_count_against_the_quota(
    make_api: MakeApi, clock: FakeClock
) -> None:
    api = await make_api(per_minute=4, per_hour=0)
    ada = await api.person("ada@example.com")

    found = await api.post("filtered_search/contact", by_email("ada@example.com"))
    looked_up = await api.get("lookup?q=ada@example.com&f=email&entities=contact")
    forgotten = await api.delete(f"contacts/{ada}/forget")
    refused = await api.delete(f"contacts/{ada}/forget")

    assert (found.status, looked_up.status, forgotten.status) == (200, 200, 200)
    assert refused.status == 429
    base = "/crm/sales/api/"
    logged = [(r.method, r.path.removeprefix(base), r.status) for r in api.sim.requests]
    assert logged[1:] == [
        ("POST", "filtered_search/contact", 200),
        ("GET", "lookup", 200),
        ("DELETE", f"contacts/{ada}/forget", 200),
        ("DELETE", f"contacts/{ada}/forget", 429),
    ]
    assert api.sim.requests[1].body == by_email("ada@example.com")
    clock.advance(60)
    assert (await api.delete(f"contacts/{ada}/forget")).status == 404
