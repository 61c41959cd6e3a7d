"""Rules 6 and 7: upsert by one unique field; a plain create may not repeat a unique value."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.conftest import Api, MakeApi


async def upsert(
    api: Api, module: str, identifier: dict[str, Any], record: dict[str, Any], **kw
) -> tuple[int, dict[str, Any]]:
    singular = {"contacts": "contact", "sales_accounts": "sales_account", "deals": "deal"}.get(
        module, "lead"
    )
    answer = await api.post(
        f"{module}/upsert", {"unique_identifier": identifier, singular: record}, **kw
    )
    return answer.status, answer.body


async def test_an_upsert_without_a_match_creates_the_record_with_the_identifier_value(
    api: Api,
) -> None:
    status, body = await upsert(api, "sales_accounts", {"name": "Acme"}, {"city": "Leeds"})

    assert status == 200
    assert (body["sales_account"]["name"], body["sales_account"]["city"]) == ("Acme", "Leeds")


async def test_an_email_upsert_writes_the_identifier_as_the_primary_email(api: Api) -> None:
    _, body = await upsert(api, "contacts", {"emails": "ada@example.com"}, {"first_name": "Ada"})

    assert body["contact"]["email"] == "ada@example.com"
    assert [e["value"] for e in body["contact"]["emails"]] == ["ada@example.com"]


async def test_an_upsert_that_matches_updates_only_the_fields_it_sends(api: Api) -> None:
    _, first = await upsert(
        api,
        "contacts",
        {"emails": "ada@example.com"},
        {"first_name": "Ada", "job_title": "CTO", "custom_field": {"cf_plan": "Pro"}},
    )
    status, second = await upsert(
        api,
        "contacts",
        {"emails": "ADA@Example.com"},
        {"last_name": "Lovelace", "custom_field": {"cf_alternate_number": "42"}},
    )

    assert status == 200
    contact = second["contact"]
    assert contact["id"] == first["contact"]["id"]
    assert (contact["first_name"], contact["last_name"], contact["job_title"]) == (
        "Ada",
        "Lovelace",
        "CTO",
    )
    assert contact["custom_field"] == {"cf_plan": "Pro", "cf_alternate_number": "42"}
    assert len(api.sim.state()["contacts"]) == 1


async def test_the_email_match_is_on_the_primary_email_only(api: Api) -> None:
    await api.post(
        "contacts",
        {"contact": {"emails": [{"value": "main@example.com"}, {"value": "other@example.com"}]}},
    )

    _, body = await upsert(api, "contacts", {"emails": "other@example.com"}, {})

    assert len(api.sim.state()["contacts"]) == 2
    assert body["contact"]["email"] == "other@example.com"


@pytest.mark.parametrize(
    ("key", "value"), [("mobile_number", "+44 7700 900123"), ("external_id", "u-1")]
)
async def test_contacts_upsert_by_mobile_number_or_external_id(
    api: Api, key: str, value: str
) -> None:
    _, first = await upsert(api, "contacts", {key: value}, {"first_name": "Ada"})
    _, second = await upsert(api, "contacts", {key: value}, {"last_name": "Lovelace"})

    assert first["contact"][key] == value
    assert second["contact"]["id"] == first["contact"]["id"]
    assert second["contact"]["display_name"] == "Ada Lovelace"


async def test_deals_upsert_by_name_by_default(api: Api) -> None:
    _, first = await upsert(api, "deals", {"name": "Big"}, {"amount": 10})
    _, second = await upsert(api, "deals", {"name": "Big"}, {"amount": 20})

    assert second["deal"]["id"] == first["deal"]["id"]
    assert second["deal"]["amount"] == 20


async def test_deals_have_no_unique_field_when_none_is_configured(make_api: MakeApi) -> None:
    api = await make_api(deal_unique_fields=())

    status, body = await upsert(api, "deals", {"name": "Big"}, {"amount": 10})

    assert status == 400
    assert body["errors"]["message"] == [
        "unique_identifier: name is not a unique field (none configured)"
    ]


async def test_deals_can_upsert_by_a_configured_custom_unique_field(make_api: MakeApi) -> None:
    api = await make_api(deal_unique_fields=("cf_order_id",))

    _, first = await upsert(api, "deals", {"cf_order_id": "o-1"}, {"name": "Order 1"})
    _, second = await upsert(api, "deals", {"cf_order_id": "o-1"}, {"amount": 5})

    assert first["deal"]["custom_field"] == {"cf_order_id": "o-1"}
    assert second["deal"]["id"] == first["deal"]["id"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contact": {}}, "unique_identifier can't be blank"),
        (
            {"unique_identifier": "a@b.co", "contact": {}},
            "unique_identifier must be an object with exactly one field",
        ),
        (
            {"unique_identifier": {}, "contact": {}},
            "unique_identifier must be an object with exactly one field",
        ),
        (
            {"unique_identifier": {"emails": "a@b.co", "external_id": "u"}, "contact": {}},
            "unique_identifier must be an object with exactly one field",
        ),
        (
            {"unique_identifier": {"first_name": "Ada"}, "contact": {}},
            "unique_identifier: first_name is not a unique field"
            " (emails, mobile_number, external_id)",
        ),
        (
            {"unique_identifier": {"emails": ""}, "contact": {}},
            "unique_identifier: emails must be a non-empty string or number",
        ),
        (
            {"unique_identifier": {"emails": "not-an-email"}, "contact": {}},
            "unique_identifier: 'not-an-email' is not a valid email",
        ),
    ],
    ids=["missing", "string", "empty", "two-keys", "not-unique", "blank", "not-email"],
)
async def test_the_unique_identifier_must_be_one_unique_field_of_the_module(
    api: Api, body: dict[str, Any], message: str
) -> None:
    answer = await api.post("contacts/upsert", body)

    assert (answer.status, answer.errors) == (400, [message])
    assert api.sim.state()["contacts"] == []


async def test_accounts_upsert_only_by_name(api: Api) -> None:
    status, body = await upsert(api, "sales_accounts", {"website": "acme.example"}, {})

    assert status == 400
    assert body["errors"]["message"] == ["unique_identifier: website is not a unique field (name)"]


async def test_include_sales_accounts_embeds_partial_accounts(api: Api) -> None:
    acme = await api.account("Acme", website="https://acme.example")
    beta = await api.account("Beta")

    answer = await api.post(
        "contacts/upsert?include=sales_accounts",
        {
            "unique_identifier": {"emails": "a@b.co"},
            "contact": {
                "sales_accounts": [
                    {"id": acme, "is_primary": True},
                    {"id": beta, "is_primary": False},
                ]
            },
        },
    )
    plain = await api.post(
        "contacts/upsert", {"unique_identifier": {"emails": "a@b.co"}, "contact": {}}
    )

    embedded = answer.body["contact"]["sales_accounts"]
    assert embedded[0] == {
        "partial": True,
        "id": acme,
        "name": "Acme",
        "avatar": None,
        "website": "https://acme.example",
        "last_contacted": None,
        "record_type_id": embedded[0]["record_type_id"],
        "is_primary": True,
    }
    assert isinstance(embedded[0]["record_type_id"], str)
    assert (embedded[1]["id"], embedded[1]["is_primary"]) == (beta, False)
    assert "sales_accounts" not in plain.body["contact"]


@pytest.mark.parametrize(
    ("path", "record", "message"),
    [
        ("contacts", {"contact": {"emails": "ADA@example.com"}}, "Emails has already been taken"),
        ("contacts", {"contact": {"external_id": "u-1"}}, "External ID has already been taken"),
        (
            "contacts",
            {"contact": {"mobile_number": "+1 555"}},
            "Mobile number has already been taken",
        ),
        ("sales_accounts", {"sales_account": {"name": "Acme"}}, "Name has already been taken"),
        ("deals", {"deal": {"name": "Big"}}, "Name has already been taken"),
    ],
)
async def test_a_plain_create_with_an_existing_unique_value_is_a_400(
    api: Api, path: str, record: dict[str, Any], message: str
) -> None:
    await api.post(
        "contacts",
        {"contact": {"emails": "ada@example.com", "external_id": "u-1", "mobile_number": "+1 555"}},
    )
    await api.account("Acme")
    await api.post("deals", {"deal": {"name": "Big"}})
    before = api.sim.state()

    answer = await api.post(path, record)

    assert (answer.status, answer.errors) == (400, [message])
    assert api.sim.state() == before


async def test_a_lead_create_with_an_existing_email_is_a_400_on_classic(api: Api) -> None:
    await api.person("ada@example.com", flavor="classic", module="leads")

    answer = await api.post("leads", {"lead": {"emails": "ada@example.com"}}, flavor="classic")

    assert (answer.status, answer.errors) == (400, ["Emails has already been taken"])


async def test_an_upsert_that_would_take_another_records_unique_value_is_a_400(api: Api) -> None:
    await api.post("contacts", {"contact": {"emails": "one@example.com", "external_id": "u-1"}})

    status, body = await upsert(
        api, "contacts", {"emails": "two@example.com"}, {"external_id": "u-1"}
    )

    assert status == 400
    assert body["errors"]["message"] == ["External ID has already been taken"]
