"""Rule 8: unknown fields, wrong types and dangling references are 400s, one message per field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.conftest import Api, MakeApi


async def test_unknown_top_level_and_custom_fields_get_one_message_each(api: Api) -> None:
    answer = await api.post(
        "contacts",
        {
            "contact": {
                "emails": "a@b.co",
                "favourite_colour": "blue",
                "custom_field": {"cf_alternate_number": "1", "cf_nope": 1, "cf_other": 2},
            }
        },
    )

    assert answer.status == 400
    assert answer.errors == [
        "Unknown field 'favourite_colour'",
        "Unknown field 'custom_field.cf_nope'",
        "Unknown field 'custom_field.cf_other'",
    ]


@pytest.mark.parametrize("field", ["id", "display_name", "email", "created_at", "updated_at"])
async def test_read_only_fields_in_a_write_are_unknown_fields(api: Api, field: str) -> None:
    answer = await api.post("contacts", {"contact": {"emails": "a@b.co", field: "x"}})

    assert (answer.status, answer.errors) == (400, [f"Unknown field '{field}'"])


async def test_unknown_fields_are_dropped_when_configured_to_ignore_them(make_api: MakeApi) -> None:
    api = await make_api(ignore_unknown_fields=True)

    answer = await api.post(
        "contacts",
        {
            "contact": {"emails": "a@b.co", "colour": "blue", "custom_field": {"cf_nope": 1}},
            "extra": True,
        },
    )

    assert answer.status == 200
    assert "colour" not in answer.body["contact"]
    assert answer.body["contact"]["custom_field"] == {}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"custom_field": {"cf_lifetime_value": "12"}}, "Lifetime value must be a number"),
        ({"custom_field": {"cf_newsletter": "yes"}}, "Newsletter must be true or false"),
        ({"custom_field": {"cf_signup_date": "last tuesday"}}, "Signup date is not a valid date"),
        ({"custom_field": {"cf_plan": "Gold"}}, "Plan must be one of: Free, Pro, Enterprise"),
        ({"custom_field": ["cf_plan"]}, "Custom field must be an object of cf_ fields"),
        ({"owner_id": "abc"}, "Sales owner must be a numeric id"),
        ({"lifecycle_stage_id": True}, "Lifecycle stage must be a numeric id"),
        ({"first_name": {"given": "Ada"}}, "First name must be text"),
        ({"subscription_status": "1"}, "Subscription status must be a number"),
        ({"work_email": "nope"}, "Work email is not a valid email"),
        ({"tags": [1, 2]}, "Tags must be a list of text"),
    ],
)
async def test_a_value_of_the_wrong_type_is_a_400_naming_the_field(
    api: Api, fields: dict[str, Any], message: str
) -> None:
    answer = await api.post("contacts", {"contact": {"emails": "a@b.co", **fields}})

    assert (answer.status, answer.errors) == (400, [message])


async def test_well_typed_values_are_stored(api: Api) -> None:
    answer = await api.post(
        "contacts",
        {
            "contact": {
                "emails": "a@b.co",
                "zipcode": 90210,
                "tags": "vip",
                "custom_field": {
                    "cf_lifetime_value": 12.5,
                    "cf_newsletter": False,
                    "cf_signup_date": "2026-11-02T10:00:00+00:00",
                    "cf_plan": "Pro",
                },
            }
        },
    )

    contact = answer.body["contact"]
    assert (contact["zipcode"], contact["tags"]) == ("90210", ["vip"])
    assert contact["custom_field"] == {
        "cf_lifetime_value": 12.5,
        "cf_newsletter": False,
        "cf_signup_date": "2026-11-02",
        "cf_plan": "Pro",
    }


async def test_every_bad_field_of_one_write_is_reported_together(api: Api) -> None:
    answer = await api.post(
        "contacts",
        {"contact": {"emails": "a@b.co", "owner_id": "x", "custom_field": {"cf_newsletter": 1}}},
    )

    assert answer.errors == ["Sales owner must be a numeric id", "Newsletter must be true or false"]


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("lifecycle_stage_id", "Lifecycle stage"),
        ("contact_status_id", "Status"),
        ("owner_id", "Sales owner"),
        ("territory_id", "Territory"),
    ],
)
async def test_selector_ids_must_exist_in_the_account(api: Api, field: str, label: str) -> None:
    answer = await api.post("contacts", {"contact": {"emails": "a@b.co", field: 123}})

    assert (answer.status, answer.errors) == (400, [f"{label} 123 does not exist"])


async def test_a_seeded_selector_id_is_accepted_also_as_digits(api: Api) -> None:
    customer = await api.seeded("lifecycle_stages", "Customer")
    owner = await api.seeded("owners")

    answer = await api.post(
        "contacts",
        {"contact": {"emails": "a@b.co", "lifecycle_stage_id": customer, "owner_id": str(owner)}},
    )

    assert (answer.body["contact"]["lifecycle_stage_id"], answer.body["contact"]["owner_id"]) == (
        customer,
        owner,
    )


async def test_a_suite_contacts_lifecycle_stage_can_change_but_never_be_blank(api: Api) -> None:
    person = await api.person("a@b.co")
    customer = await api.seeded("lifecycle_stages", "Customer")

    moved = await api.put(f"contacts/{person}", {"contact": {"lifecycle_stage_id": customer}})
    blanked = await api.put(f"contacts/{person}", {"contact": {"lifecycle_stage_id": None}})

    assert moved.body["contact"]["lifecycle_stage_id"] == customer
    assert (blanked.status, blanked.errors) == (400, ["Lifecycle stage can't be blank"])


async def test_a_contacts_sales_accounts_need_exactly_one_primary(api: Api) -> None:
    one, two = await api.account("One"), await api.account("Two")

    none = await api.post(
        "contacts",
        {"contact": {"emails": "a@b.co", "sales_accounts": [{"id": one, "is_primary": False}]}},
    )
    both = await api.post(
        "contacts",
        {
            "contact": {
                "emails": "a@b.co",
                "sales_accounts": [
                    {"id": one, "is_primary": True},
                    {"id": two, "is_primary": True},
                ],
            }
        },
    )

    message = "Sales accounts need exactly one primary account (is_primary: true)"
    assert (none.status, none.errors) == (400, [message])
    assert (both.status, both.errors) == (400, [message])


async def test_a_contact_has_at_most_25_sales_accounts(make_api: MakeApi) -> None:
    api = await make_api()
    ids = [await api.account(f"A{n}") for n in range(26)]
    links = [{"id": i, "is_primary": n == 0} for n, i in enumerate(ids)]

    answer = await api.post("contacts", {"contact": {"emails": "a@b.co", "sales_accounts": links}})

    assert (answer.status, answer.errors) == (400, ["Sales accounts can have at most 25 entries"])


@pytest.mark.parametrize(
    ("links", "message"),
    [
        ([{"id": 70000000999, "is_primary": True}], "Sales account 70000000999 does not exist"),
        ([{"id": None, "is_primary": True}], "Sales account must be a numeric id"),
        ([{"is_primary": True}], "Sales account must be a numeric id"),
        ({"id": 1}, "Sales accounts must be a list of {id, is_primary} objects"),
        (
            [{"id": 1, "is_primary": "yes"}],
            "Sales accounts must be a list of {id, is_primary} objects",
        ),
    ],
)
async def test_each_linked_sales_account_must_exist(api: Api, links: object, message: str) -> None:
    answer = await api.post("contacts", {"contact": {"emails": "a@b.co", "sales_accounts": links}})

    assert (answer.status, answer.errors) == (400, [message])


async def test_a_deals_account_and_contacts_must_exist(api: Api) -> None:
    answer = await api.post(
        "deals",
        {"deal": {"name": "D", "sales_account_id": 70000000998, "contacts_added_list": [None]}},
    )

    assert answer.errors == [
        "Sales account 70000000998 does not exist",
        "Contact must be a numeric id",
    ]


async def test_a_deal_links_its_contacts_and_account(api: Api) -> None:
    account = await api.account("Acme")
    person = await api.person("a@b.co")

    deal = await api.post(
        "deals",
        {
            "deal": {
                "name": "D",
                "amount": 1234,
                "sales_account_id": account,
                "contacts_added_list": [person],
            }
        },
    )

    assert deal.body["deal"]["sales_account_id"] == account
    assert deal.body["deal"]["contact_ids"] == [person]


@pytest.mark.parametrize(
    ("emails", "stored"),
    [
        ("a@b.co", [("a@b.co", True)]),
        (["a@b.co", "c@d.co"], [("a@b.co", True), ("c@d.co", False)]),
        (
            [{"value": "a@b.co"}, {"value": "c@d.co", "is_primary": True}],
            [("a@b.co", False), ("c@d.co", True)],
        ),
    ],
)
async def test_emails_may_be_a_string_or_a_list_of_strings_or_objects(
    api: Api, emails: object, stored: list[tuple[str, bool]]
) -> None:
    answer = await api.post("contacts", {"contact": {"emails": emails}})

    rows = answer.body["contact"]["emails"]
    assert [(r["value"], r["is_primary"]) for r in rows] == stored


@pytest.mark.parametrize(
    ("emails", "message"),
    [
        ("not-an-email", "Emails 'not-an-email' is not a valid email"),
        (["a@b.co", 7], "Emails 7 is not a valid email"),
        ({"value": "a@b.co"}, "Emails must be an email address or a list of them"),
        (
            [{"value": "a@b.co", "is_primary": True}, {"value": "c@d.co", "is_primary": True}],
            "Emails can have only one primary email",
        ),
    ],
)
async def test_emails_must_be_email_shaped(api: Api, emails: object, message: str) -> None:
    answer = await api.post("contacts", {"contact": {"emails": emails}})

    assert (answer.status, answer.errors) == (400, [message])


async def test_an_account_needs_a_name(api: Api) -> None:
    missing = await api.post("sales_accounts", {"sales_account": {"city": "Leeds"}})
    blank = await api.post("sales_accounts", {"sales_account": {"name": ""}})

    assert (missing.status, missing.errors) == (400, ["Name can't be blank"])
    assert (blank.status, blank.errors) == (400, ["Name can't be blank"])
