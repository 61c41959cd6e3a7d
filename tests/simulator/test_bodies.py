"""Rules 3 and 4: JSON request bodies wrapped in the singular key; full, wrapped answers."""

from __future__ import annotations

import re

import pytest

from tests.simulator.conftest import Api, MakeApi

UPSERT = {"unique_identifier": {"emails": "ada@example.com"}, "contact": {"first_name": "Ada"}}
ISO_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-04:00\Z")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_declared_json_is_a_400(api: Api, content_type: str) -> None:
    answer = await api.post("contacts/upsert", raw=b'{"contact": {}}', content_type=content_type)

    assert answer.status == 400
    assert answer.errors == [f"Content-Type must be application/json, not {content_type}"]


async def test_a_charset_parameter_on_the_json_content_type_is_fine(api: Api) -> None:
    answer = await api.post(
        "contacts/upsert",
        raw=b'{"unique_identifier": {"emails": "a@b.co"}, "contact": {}}',
        content_type="application/json; charset=utf-8",
    )

    assert answer.status == 200


async def test_malformed_json_is_a_400(api: Api) -> None:
    answer = await api.post("contacts/upsert", raw=b'{"contact": ')

    assert (answer.status, answer.errors) == (400, ["The request body is not valid JSON"])


@pytest.mark.parametrize("raw", [b"[]", b'"contact"', b"42", b"null"])
async def test_a_body_that_is_not_a_json_object_is_a_400(api: Api, raw: bytes) -> None:
    answer = await api.post("contacts", raw=raw)

    assert (answer.status, answer.errors) == (400, ["The request body must be a JSON object"])


@pytest.mark.parametrize(
    ("path", "singular"),
    [
        ("contacts", "contact"),
        ("sales_accounts", "sales_account"),
        ("deals", "deal"),
        ("sales_activities", "sales_activity"),
    ],
)
async def test_a_record_outside_its_singular_envelope_is_a_400(
    api: Api, path: str, singular: str
) -> None:
    answer = await api.post(path, {"name": "Acme", "first_name": "Ada"})

    assert answer.status == 400
    assert answer.errors == [f'The record must be wrapped: {{"{singular}": {{...}}}}']


async def test_a_lead_outside_its_envelope_is_a_400_on_classic(api: Api) -> None:
    answer = await api.post("leads", {"first_name": "Ada"}, flavor="classic")

    assert answer.errors == ['The record must be wrapped: {"lead": {...}}']


async def test_the_envelope_must_hold_an_object(api: Api) -> None:
    answer = await api.post("contacts", {"contact": "Ada"})

    assert (answer.status, answer.errors) == (400, ["contact must be an object"])


async def test_keys_beside_the_envelope_are_unknown_parameters(api: Api) -> None:
    answer = await api.post("contacts/upsert", {**UPSERT, "contacts": {}})

    assert (answer.status, answer.errors) == (400, ["Unknown parameter 'contacts'"])


async def test_unwrapped_bodies_are_accepted_when_configured(make_api: MakeApi) -> None:
    api = await make_api(accept_unwrapped=True)

    created = await api.post("sales_accounts", {"name": "Acme"})
    upserted = await api.post(
        "contacts/upsert", {"unique_identifier": {"emails": "a@b.co"}, "first_name": "Ada"}
    )

    assert created.status == 200
    assert created.body["sales_account"]["name"] == "Acme"
    assert upserted.body["contact"]["first_name"] == "Ada"


async def test_a_contact_answer_is_the_full_wrapped_record(api: Api) -> None:
    answer = await api.post("contacts/upsert", UPSERT)

    assert answer.status == 200
    assert list(answer.body) == ["contact"]
    contact = answer.body["contact"]
    assert isinstance(contact["id"], int)
    assert contact["id"] >= 70_000_000_001
    assert contact["emails"] == [
        {
            "id": contact["emails"][0]["id"],
            "value": "ada@example.com",
            "is_primary": True,
            "label": None,
            "_destroy": False,
        }
    ]
    assert contact["email"] == "ada@example.com"
    assert contact["display_name"] == "Ada"
    assert contact["custom_field"] == {}
    assert ISO_WITH_OFFSET.match(contact["created_at"])
    assert contact["updated_at"] == contact["created_at"]
    assert contact["last_name"] is None  # every known field is present, unset ones as null
    assert contact["owner_id"] == await api.seeded("owners")
    assert contact["lifecycle_stage_id"] == await api.seeded("lifecycle_stages", "Lead")


async def test_display_name_is_first_and_last_name_else_the_email(api: Api) -> None:
    named = await api.post(
        "contacts",
        {"contact": {"first_name": "Ada", "last_name": "Lovelace", "emails": "ada@example.com"}},
    )
    unnamed = await api.post("contacts", {"contact": {"emails": "anon@example.com"}})

    assert named.body["contact"]["display_name"] == "Ada Lovelace"
    assert unnamed.body["contact"]["display_name"] == "anon@example.com"


async def test_a_record_given_an_owner_keeps_it(api: Api) -> None:
    seller = await api.seeded("owners", "Riley Seller")

    answer = await api.post(
        "sales_accounts", {"sales_account": {"name": "Acme", "owner_id": seller}}
    )

    assert answer.body["sales_account"]["owner_id"] == seller


async def test_classic_timestamps_are_utc_with_a_z(api: Api) -> None:
    answer = await api.post("contacts", {"contact": {"emails": "a@b.co"}}, flavor="classic")

    assert answer.body["contact"]["created_at"].endswith("Z")
    assert "lifecycle_stage_id" not in answer.body["contact"]  # a Suite feature


async def test_lists_use_the_plural_key_and_meta_with_page_and_per_page(api: Api) -> None:
    for n in range(5):
        await api.account(f"Account {n}")

    first = await api.get("sales_accounts?per_page=2")
    last = await api.get("sales_accounts?per_page=2&page=3")
    default = await api.get("sales_accounts")

    assert [a["name"] for a in first.body["sales_accounts"]] == ["Account 0", "Account 1"]
    assert first.body["meta"] == {"total_pages": 3, "total": 5}
    assert [a["name"] for a in last.body["sales_accounts"]] == ["Account 4"]
    assert len(default.body["sales_accounts"]) == 5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("per_page=0", "per_page must be a whole number between 1 and 100"),
        ("per_page=101", "per_page must be a whole number between 1 and 100"),
        ("per_page=ten", "per_page must be a whole number between 1 and 100"),
        ("page=0", "page must be a whole number at least 1"),
    ],
)
async def test_page_and_per_page_out_of_range_are_400s(api: Api, query: str, message: str) -> None:
    answer = await api.get(f"contacts?{query}")

    assert (answer.status, answer.errors) == (400, [message])
