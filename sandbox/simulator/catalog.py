"""The simulator's own field catalog: which fields each module accepts, and of what type.

It drives both the validation of writes and the ``settings/{module}/fields`` answers, so what the
simulator advertises is exactly what it enforces. Field names follow Freshsales' recorded answers
(docs/simulator.md); ``type`` values are Freshsales' own type names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from enum import Enum, auto
from typing import Any, Final

from sandbox.simulator.config import CustomField, SimulatorConfig
from sandbox.simulator.seed import Seed


class Kind(Enum):
    """How a value is checked; several Freshsales types share one check."""

    TEXT = auto()
    EMAIL = auto()
    NUMBER = auto()
    CHECKBOX = auto()
    DATE = auto()
    DATETIME = auto()
    CHOICE = auto()  # custom dropdown: one of the choice labels
    SELECTOR = auto()  # id of a selector entry (owners, territories…)
    RECORD = auto()  # id of a record of another module
    RECORD_LIST = auto()  # ids of records of another module
    EMAILS = auto()
    TAGS = auto()
    ACCOUNTS = auto()  # a contact's [{id, is_primary}]
    NESTED = auto()  # a classic lead's company or deal object
    TARGET_TYPE = auto()  # what a sales activity is about: Contact, SalesAccount…
    TARGET_ID = auto()  # the id of that record, checked once the type is known


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str
    kind: Kind
    target: str | None = None  # selector or module the id refers to; module of a NESTED object
    choices: tuple[str, ...] = ()
    required: bool = False  # must be given on create
    not_null: bool = False  # may be left out (a default applies) but never set blank
    custom: bool = False
    write_only: bool = False  # accepted on write, not rendered as such


@dataclass(frozen=True)
class ModuleFields:
    module: str
    singular: str
    base_model: str
    standard: Mapping[str, Field]
    custom: Mapping[str, Field]


_PHONE: Final = ("phone_number", Kind.TEXT)


def _text(name: str, label: str | None = None, *, required: bool = False) -> Field:
    return Field(name, label or _humanize(name), "text", Kind.TEXT, required=required)


def _ref(name: str, selector: str, label: str | None = None, *, required: bool = False) -> Field:
    label = label or _humanize(name)
    return Field(name, label, "dropdown", Kind.SELECTOR, selector, required=required)


def _humanize(name: str) -> str:
    return name.removeprefix("cf_").removesuffix("_id").replace("_", " ").capitalize()


_PLACE: Final = [_text(n) for n in ("address", "city", "state", "zipcode", "country")]
_SOCIAL: Final = [_text(n) for n in ("facebook", "twitter", "linkedin")]


def _person(flavor: str, module: str) -> list[Field]:
    fields = [
        _text("first_name"),
        _text("last_name"),
        Field("emails", "Emails", "email", Kind.EMAILS),
        Field("work_email", "Work email", "email", Kind.EMAIL),
        _text("job_title"),
        Field("work_number", "Work number", *_PHONE),
        Field("mobile_number", "Mobile number", *_PHONE),
        *_PLACE,
        _text("time_zone"),
        _text("locale"),
        _text("medium"),
        _text("keyword"),
        *_SOCIAL,
        _text("external_id", "External ID"),
        Field("subscription_status", "Subscription status", "number", Kind.NUMBER),
        _text("subscription_types"),
        _ref("owner_id", "owners", "Sales owner"),
        _ref("territory_id", "territories"),
        _ref("lead_source_id", "lead_sources", "Source"),
        _ref("campaign_id", "campaigns"),
        Field("tags", "Tags", "tags", Kind.TAGS),
    ]
    if module == "contacts":
        fields.append(_ref("contact_status_id", "contact_statuses", "Status"))
        fields.append(
            Field(
                "sales_accounts",
                "Sales accounts",
                "auto_complete",
                Kind.ACCOUNTS,
                "sales_accounts",
                write_only=True,
            )
        )
        if flavor == "suite":
            # Never blank, but optional: a new contact takes the default stage.
            stage = _ref("lifecycle_stage_id", "lifecycle_stages")
            fields.append(replace(stage, not_null=True))
    else:
        fields.append(_ref("lead_stage_id", "lead_stages"))
        fields.append(_ref("lead_reason_id", "lead_reasons"))
        fields.append(
            Field(
                "company",
                "Company",
                "auto_complete",
                Kind.NESTED,
                "sales_accounts",
                write_only=True,
            )
        )
        fields.append(Field("deal", "Deal", "auto_complete", Kind.NESTED, "deals", write_only=True))
    return fields


def _account() -> list[Field]:
    return [
        _text("name", required=True),
        *_PLACE,
        Field("phone", "Phone", *_PHONE),
        Field("website", "Website", "url", Kind.TEXT),
        *_SOCIAL,
        Field("number_of_employees", "Number of employees", "number", Kind.NUMBER),
        Field("annual_revenue", "Annual revenue", "number", Kind.NUMBER),
        _ref("industry_type_id", "industry_types"),
        _ref("business_type_id", "business_types"),
        _ref("territory_id", "territories"),
        _ref("owner_id", "owners", "Sales owner"),
        Field(
            "parent_sales_account_id",
            "Parent account",
            "auto_complete",
            Kind.RECORD,
            "sales_accounts",
        ),
        Field("tags", "Tags", "tags", Kind.TAGS),
    ]


def _deal() -> list[Field]:
    return [
        _text("name", required=True),
        Field("amount", "Deal value", "number", Kind.NUMBER),
        Field("probability", "Probability", "number", Kind.NUMBER),
        _ref("deal_pipeline_id", "deal_pipelines"),
        _ref("deal_stage_id", "deal_stages"),
        _ref("owner_id", "owners", "Sales owner"),
        _ref("currency_id", "currencies"),
        _ref("deal_type_id", "deal_types"),
        _ref("deal_reason_id", "deal_reasons"),
        _ref("deal_payment_status_id", "deal_payment_statuses"),
        _ref("lead_source_id", "lead_sources", "Source"),
        _ref("campaign_id", "campaigns"),
        _ref("territory_id", "territories"),
        Field("expected_close", "Expected close date", "date", Kind.DATE),
        Field("sales_account_id", "Sales account", "auto_complete", Kind.RECORD, "sales_accounts"),
        Field(
            "contacts_added_list",
            "Contacts",
            "auto_complete",
            Kind.RECORD_LIST,
            "contacts",
            write_only=True,
        ),
        Field("tags", "Tags", "tags", Kind.TAGS),
    ]


def _activity() -> list[Field]:
    return [
        _text("title", required=True),
        _ref("sales_activity_type_id", "sales_activity_types", "Activity type", required=True),
        Field("start_date", "Start date", "datetime", Kind.DATETIME, required=True),
        Field("end_date", "End date", "datetime", Kind.DATETIME, required=True),
        _ref("owner_id", "owners", "Owner", required=True),
        Field("targetable_type", "Targetable type", "dropdown", Kind.TARGET_TYPE, required=True),
        Field("targetable_id", "Targetable", "auto_complete", Kind.TARGET_ID, required=True),
        Field("notes", "Notes", "textarea", Kind.TEXT),
        _ref("sales_activity_outcome_id", "sales_activity_outcomes", "Outcome"),
        _text("location"),
        _text("latitude"),
        _text("longitude"),
        Field("checkedin_at", "Checked in at", "datetime", Kind.DATETIME),
        _ref("creater_id", "owners", "Created by"),
    ]


_MODULES: Final = {
    "contacts": ("contact", "Contact"),
    "leads": ("lead", "Lead"),
    "sales_accounts": ("sales_account", "SalesAccount"),
    "deals": ("deal", "Deal"),
    "sales_activities": ("sales_activity", "SalesActivity"),
}


def modules_of(flavor: str) -> tuple[str, ...]:
    """The record modules an account of this flavour has (leads only on Classic)."""
    return tuple(m for m in _MODULES if m != "leads" or flavor == "classic")


def build_catalog(config: SimulatorConfig, flavor: str) -> dict[str, ModuleFields]:
    catalog = {}
    for module in modules_of(flavor):
        if module in ("contacts", "leads"):
            standard = _person(flavor, module)
        else:
            standard = {"sales_accounts": _account, "deals": _deal, "sales_activities": _activity}[
                module
            ]()
        singular, base_model = _MODULES[module]
        catalog[module] = ModuleFields(
            module,
            singular,
            base_model,
            {f.name: f for f in standard},
            {c.name: _custom(c) for c in config.custom_fields.get(module, ())},
        )
    return catalog


def _custom(spec: CustomField) -> Field:
    kind = {
        "number": Kind.NUMBER,
        "checkbox": Kind.CHECKBOX,
        "date": Kind.DATE,
        "dropdown": Kind.CHOICE,
        "email": Kind.EMAIL,
    }.get(spec.type, Kind.TEXT)
    label = spec.label or _humanize(spec.name)
    return Field(spec.name, label, spec.type, kind, choices=spec.choices, custom=True)


def settings_answer(fields: ModuleFields, seed: Seed, ids: Iterator[int]) -> dict[str, Any]:
    """``{"fields": [...]}`` as ``GET settings/{module}/fields`` renders it."""
    rendered = []
    for field in [*fields.standard.values(), *fields.custom.values()]:
        entry: dict[str, Any] = {
            "id": next(ids),
            "name": field.name,
            "label": field.label,
            "type": field.type,
            "required": field.required,
            "default": not field.custom,
            "base_model": fields.base_model,
        }
        if field.kind is Kind.CHOICE:
            entry["choices"] = [
                {"id": next(ids), "value": value, "position": i}
                for i, value in enumerate(field.choices, start=1)
            ]
        elif field.kind is Kind.SELECTOR and field.target is not None:
            entry["choices"] = [
                {"id": choice_id, "value": name, "position": i}
                for i, (choice_id, name) in enumerate(seed.names(field.target), start=1)
            ]
        rendered.append(entry)
    return {"fields": rendered}
