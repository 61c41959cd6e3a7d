"""A person's accounts and an account's industry, as the simulator keeps them (docs/simulator.md;
): what a group and identify's company rely on."""

from __future__ import annotations

from tests.simulator.conftest import Api, MakeApi


def links(answer_body: dict[str, object]) -> list[tuple[int, bool]]:
    record = answer_body["contact"]
    assert isinstance(record, dict)
    return [(a["id"], a["is_primary"]) for a in record["sales_accounts"]]


async def test_sales_accounts_sent_on_a_person_replace_the_list_it_had(api: Api) -> None:
    one, two, three = [await api.account(n) for n in ("One", "Two", "Three")]
    person = await api.post(
        "contacts/upsert",
        {
            "unique_identifier": {"emails": "a@b.co"},
            "contact": {
                "sales_accounts": [
                    {"id": one, "is_primary": True},
                    {"id": two, "is_primary": False},
                ]
            },
        },
    )
    ident = person.body["contact"]["id"]

    replaced = await api.put(
        f"contacts/{ident}?include=sales_accounts",
        {"contact": {"sales_accounts": [{"id": three, "is_primary": True}]}},
    )
    untouched = await api.post(
        "contacts/upsert?include=sales_accounts",
        {"unique_identifier": {"emails": "a@b.co"}, "contact": {"first_name": "A"}},
    )

    assert links(replaced.body) == [(three, True)]  # One and Two are gone
    assert links(untouched.body) == [(three, True)]  # a write without the list keeps it


async def test_a_persons_accounts_come_with_every_answer_that_includes_them(api: Api) -> None:
    acme = await api.account("Acme")
    created = await api.post(
        "contacts/upsert?include=sales_accounts",
        {"unique_identifier": {"emails": "a@b.co"}, "contact": {"emails": "a@b.co"}},
    )
    ident = created.body["contact"]["id"]
    await api.put(
        f"contacts/{ident}", {"contact": {"sales_accounts": [{"id": acme, "is_primary": True}]}}
    )

    shown = await api.get(f"contacts/{ident}?include=sales_accounts")
    plain = await api.get(f"contacts/{ident}")

    assert links(created.body) == []  # a new person has none: the list is there, and empty
    assert links(shown.body) == [(acme, True)]
    assert "sales_accounts" not in plain.body["contact"]


async def test_two_primary_accounts_are_refused_even_where_none_is_allowed(
    make_api: MakeApi,
) -> None:
    api = await make_api(one_primary_required=False)
    one, two = await api.account("One"), await api.account("Two")

    none = await api.post(
        "contacts",
        {"contact": {"emails": "a@b.co", "sales_accounts": [{"id": one, "is_primary": False}]}},
    )
    both = await api.post(
        "contacts",
        {
            "contact": {
                "emails": "c@d.co",
                "sales_accounts": [
                    {"id": one, "is_primary": True},
                    {"id": two, "is_primary": True},
                ],
            }
        },
    )

    assert none.status == 200
    assert (both.status, both.errors) == (400, ["Sales accounts can have only one primary account"])


async def test_an_accounts_industry_is_one_of_the_account_industry_types(api: Api) -> None:
    types = (await api.get("selector/industry_types")).body["industry_types"]
    software = next(t["id"] for t in types if t["name"] == "Software")

    known = await api.post(
        "sales_accounts/upsert",
        {"unique_identifier": {"name": "Acme"}, "sales_account": {"industry_type_id": software}},
    )
    unknown = await api.post(
        "sales_accounts/upsert",
        {"unique_identifier": {"name": "Beta"}, "sales_account": {"industry_type_id": 7}},
    )

    assert {t["name"] for t in types} >= {"Software", "Retail", "Finance", "Healthcare"}
    assert known.body["sales_account"]["industry_type_id"] == software
    assert (unknown.status, unknown.errors) == (400, ["Industry type 7 does not exist"])


async def test_a_classic_leads_company_is_replaced_by_an_update_by_id(api: Api) -> None:
    lead = await api.post(
        "leads/upsert",
        {
            "unique_identifier": {"emails": "a@b.co"},
            "lead": {"emails": "a@b.co", "company": {"name": "Acme"}},
        },
        flavor="classic",
    )
    ident = lead.body["lead"]["id"]

    moved = await api.put(
        f"leads/{ident}",
        {"lead": {"company": {"name": "Globex", "number_of_employees": 250}}},
        flavor="classic",
    )

    assert lead.body["lead"]["company"]["name"] == "Acme"
    assert moved.body["lead"]["company"]["name"] == "Globex"
    globex = api.sim.state("classic")["sales_accounts"][-1]
    assert (globex["name"], globex["number_of_employees"]) == ("Globex", 250)
