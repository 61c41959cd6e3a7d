"""Rule 5: selectors with the recorded field sets, and field settings the product can parse."""

from __future__ import annotations

import pytest

from tests.simulator.conftest import Api, MakeApi
from translate import FieldCatalog, FieldType, Module

SELECTORS = [
    "owners",
    "territories",
    "lifecycle_stages",
    "contact_statuses",
    "sales_activity_types",
    "sales_activity_outcomes",
    "lead_sources",
    "industry_types",
    "business_types",
    "campaigns",
    "currencies",
    "deal_stages",
    "deal_pipelines",
    "deal_reasons",
    "deal_types",
    "deal_payment_statuses",
]


@pytest.mark.parametrize("name", SELECTORS)
async def test_every_selector_answers_its_plural_key_with_large_int_ids(
    api: Api, name: str
) -> None:
    answer = await api.get(f"selector/{name}")

    assert answer.status == 200
    assert list(answer.body) == [name]
    assert answer.body[name]
    assert all(isinstance(e["id"], int) and e["id"] > 70_000_000_000 for e in answer.body[name])


async def test_lifecycle_stages_carry_the_recorded_fields_and_the_three_standard_types(
    api: Api,
) -> None:
    stages = (await api.get("selector/lifecycle_stages")).body["lifecycle_stages"]
    statuses = (await api.get("selector/contact_statuses")).body["contact_statuses"]

    assert {tuple(sorted(s)) for s in stages} == {
        ("contact_status_ids", "default", "disabled", "id", "name", "position", "type")
    }
    by_name = {s["name"]: s for s in stages}
    assert by_name["Lead"]["type"] == "Lead"
    assert by_name["Lead"]["default"] is True
    assert by_name["Sales Qualified Lead"]["type"] == "Sales Qualified Lead"
    assert by_name["Customer"]["type"] == "Customer"
    assert {s["type"] for s in stages} <= {"Lead", "Sales Qualified Lead", "Customer", "Custom"}
    status_ids = {s["id"] for s in statuses}
    assert all(set(s["contact_status_ids"]) <= status_ids for s in stages)


async def test_activity_types_carry_the_recorded_fields_and_the_configured_names(
    api: Api,
) -> None:
    types = (await api.get("selector/sales_activity_types")).body["sales_activity_types"]

    assert {tuple(sorted(t)) for t in types} == {
        (
            "id",
            "internal_name",
            "is_checkedin",
            "is_default",
            "name",
            "partial",
            "position",
            "show_in_conversation",
        )
    }
    names = [t["name"] for t in types]
    assert names[:8] == [
        "Chat", "Phone", "Meeting", "Task", "Email", "SMS Outgoing", "SMS Incoming", "Reminder"
    ]  # fmt: skip
    assert {"Segment Event", "Page View"} <= set(names)
    meeting = next(t for t in types if t["name"] == "Meeting")
    assert (meeting["internal_name"], meeting["is_checkedin"]) == ("appointment", True)


async def test_activity_types_follow_the_config(make_api: MakeApi) -> None:
    api = await make_api(activity_types=("Phone", "Product Event"))

    types = (await api.get("selector/sales_activity_types")).body["sales_activity_types"]

    assert [(t["name"], t["is_default"]) for t in types] == [
        ("Phone", True),
        ("Product Event", False),
    ]


async def test_an_unknown_selector_is_a_404(api: Api) -> None:
    answer = await api.get("selector/moods")

    assert (answer.status, answer.errors) == (404, ["Unknown selector 'moods'"])


@pytest.mark.parametrize(
    ("flavor", "module", "base_model"),
    [
        ("suite", "contacts", "Contact"),
        ("suite", "sales_accounts", "SalesAccount"),
        ("suite", "deals", "Deal"),
        ("suite", "sales_activities", "SalesActivity"),
        ("classic", "leads", "Lead"),
    ],
)
async def test_field_settings_list_every_field_with_freshsales_type_names(
    api: Api, flavor: str, module: str, base_model: str
) -> None:
    answer = await api.get(f"settings/{module}/fields", flavor=flavor)

    fields = answer.body["fields"]
    assert list(answer.body) == ["fields"]
    assert all(
        {"id", "name", "label", "type", "required", "default", "base_model"} <= set(f)
        for f in fields
    )
    assert {f["base_model"] for f in fields} == {base_model}
    assert {f["type"] for f in fields} <= {
        "text", "textarea", "number", "dropdown", "checkbox", "date", "datetime",
        "auto_complete", "email", "phone_number", "url", "tags",
    }  # fmt: skip


async def test_contact_settings_hold_the_seeded_custom_fields(api: Api) -> None:
    fields = (await api.get("settings/contacts/fields")).body["fields"]

    custom = {f["name"]: f for f in fields if not f["default"]}
    assert {name: f["type"] for name, f in custom.items()} == {
        "cf_alternate_number": "text",
        "cf_lifetime_value": "number",
        "cf_newsletter": "checkbox",
        "cf_signup_date": "date",
        "cf_plan": "dropdown",
    }
    assert [c["value"] for c in custom["cf_plan"]["choices"]] == ["Free", "Pro", "Enterprise"]
    stage = next(f for f in fields if f["name"] == "lifecycle_stage_id")
    assert {c["value"] for c in stage["choices"]} >= {"Lead", "Customer"}


async def test_the_field_settings_parse_as_the_products_field_catalog(api: Api) -> None:
    answers = {
        module: (await api.get(f"settings/{module}/fields", flavor=flavor)).body
        for flavor, module in [
            ("suite", "contacts"),
            ("suite", "sales_accounts"),
            ("suite", "deals"),
            ("classic", "leads"),
        ]
    }

    catalog = FieldCatalog.from_json(answers)

    contacts = catalog.fields(Module.CONTACTS)
    assert contacts is not None
    assert contacts["cf_alternate_number"] is FieldType.TEXT
    assert contacts["cf_lifetime_value"] is FieldType.NUMBER
    assert contacts["cf_newsletter"] is FieldType.BOOLEAN
    assert contacts["cf_signup_date"] is FieldType.DATE
    assert contacts["first_name"] is FieldType.TEXT
    deals = catalog.fields(Module.DEALS)
    assert deals is not None
    assert deals["amount"] is FieldType.NUMBER
    leads = catalog.fields(Module.LEADS)
    assert leads is not None
    assert "cf_alternate_number" in leads
