"""The admin configuration of a simulated account: what ``GET selector/{name}`` answers.

Entries carry the field sets of Freshsales' recorded answers (docs/simulator.md); ids are large
integers drawn from the account's own counter, so the same config always seeds the same ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.simulator.config import SimulatorConfig

Entry = dict[str, Any]

# name → (internal_name, show_in_conversation, is_checkedin) for Freshsales' default types.
_DEFAULT_ACTIVITY_TYPES = {
    "Chat": ("chat", True, False),
    "Phone": ("phone", True, False),
    "Meeting": ("appointment", False, True),
    "Task": ("task", False, False),
    "Email": ("email", True, False),
    "SMS Outgoing": ("sms_outgoing", True, False),
    "SMS Incoming": ("sms_incoming", True, False),
    "Reminder": ("reminder", False, False),
}

# (stage name, type, its contact statuses); the first is the default stage of a new contact.
_STAGES = (
    ("Lead", "Lead", ("New", "Contacted")),
    ("Sales Qualified Lead", "Sales Qualified Lead", ("Interested", "Under review")),
    ("Customer", "Customer", ("Active", "Churn risk")),
    ("Evangelist", "Custom", ("Advocate",)),
)

_NAMED = {
    "territories": ("North America", "Europe", "Asia Pacific"),
    "lead_sources": ("Web", "Email", "Phone", "Referral"),
    "industry_types": ("Software", "Retail", "Finance", "Healthcare"),
    "business_types": ("Prospect", "Customer", "Partner", "Competitor"),
    "campaigns": ("Spring Launch", "Newsletter"),
    "deal_reasons": ("Price", "Timing", "Competitor"),
    "deal_types": ("New Business", "Renewal", "Upsell"),
    "deal_payment_statuses": ("Unpaid", "Partially paid", "Paid"),
}

_CLASSIC_NAMED = {
    "lead_stages": ("New", "Contacted", "Interested", "Qualified"),
    "lead_reasons": ("Not interested", "No budget"),
}


@dataclass(frozen=True)
class Seed:
    """Selector answers of one account, plus the defaults a new record takes from them."""

    selectors: Mapping[str, list[Entry]]
    default_owner_id: int
    default_stage_id: int
    default_pipeline_id: int
    first_stage_of_pipeline: Mapping[int, int]

    def ids(self, selector: str) -> frozenset[int]:
        return frozenset(entry["id"] for entry in self.selectors.get(selector, ()))

    def names(self, selector: str) -> list[tuple[int, str]]:
        """(id, display name) of every entry, for the ``choices`` of a settings field."""
        key = "display_name" if selector == "owners" else "name"
        return [
            (e["id"], str(e.get(key) or e.get("currency_code"))) for e in self.selectors[selector]
        ]


def build_seed(config: SimulatorConfig, flavor: str, ids: Iterator[int]) -> Seed:
    new: Callable[[], int] = ids.__next__
    selectors: dict[str, list[Entry]] = {}
    selectors["owners"] = [
        {
            "id": new(),
            "display_name": name,
            "email": re.sub(r"\W+", ".", name.lower()) + "@sim.example",
            "is_active": True,
            "work_number": None,
            "mobile_number": None,
        }
        for name in config.owners
    ]
    statuses: list[Entry] = []
    stages: list[Entry] = []
    for position, (name, kind, status_names) in enumerate(_STAGES, start=1):
        stage_id = new()
        status_ids = []
        for status_position, status_name in enumerate(status_names, start=1):
            status_ids.append(new())
            statuses.append(
                {
                    "id": status_ids[-1],
                    "name": status_name,
                    "position": status_position,
                    "lifecycle_stage_id": stage_id,
                }
            )
        stages.append(
            {
                "id": stage_id,
                "name": name,
                "position": position,
                "disabled": False,
                "default": position == 1,
                "type": kind,
                "contact_status_ids": status_ids,
            }
        )
    selectors["lifecycle_stages"] = stages
    selectors["contact_statuses"] = statuses
    selectors["sales_activity_types"] = _activity_types(config.activity_types, new)
    phone = next((t["id"] for t in selectors["sales_activity_types"] if t["name"] == "Phone"), None)
    selectors["sales_activity_outcomes"] = [
        {"id": new(), "name": name, "position": i, "sales_activity_type_id": phone}
        for i, name in enumerate(("Interested", "Left voicemail", "No answer"), start=1)
    ]
    named = {**_NAMED, **(_CLASSIC_NAMED if flavor == "classic" else {})}
    for selector, names in named.items():
        selectors[selector] = [
            {"id": new(), "name": name, "position": i, "partial": True}
            for i, name in enumerate(names, start=1)
        ]
    selectors["currencies"] = [
        {"id": new(), "currency_code": code, "exchange_rate": rate, "is_base": i == 0}
        for i, (code, rate) in enumerate((("USD", "1.0"), ("EUR", "0.92"), ("GBP", "0.79")))
    ]
    pipelines, deal_stages, first_stage = _pipelines(new)
    selectors["deal_pipelines"] = pipelines
    selectors["deal_stages"] = deal_stages
    return Seed(
        selectors=selectors,
        default_owner_id=selectors["owners"][0]["id"],
        default_stage_id=stages[0]["id"],
        default_pipeline_id=pipelines[0]["id"],
        first_stage_of_pipeline=first_stage,
    )


def _activity_types(names: tuple[str, ...], new: Callable[[], int]) -> list[Entry]:
    types = []
    for position, name in enumerate(names, start=1):
        # Custom types may share an internal name (RS-NET), so one fixed name stands for them all.
        internal, conversation, checkedin = _DEFAULT_ACTIVITY_TYPES.get(
            name, ("custom", False, False)
        )
        types.append(
            {
                "partial": True,
                "id": new(),
                "name": name,
                "internal_name": internal,
                "show_in_conversation": conversation,
                "position": position,
                "is_default": name in _DEFAULT_ACTIVITY_TYPES,
                "is_checkedin": checkedin,
            }
        )
    return types


def _pipelines(new: Callable[[], int]) -> tuple[list[Entry], list[Entry], dict[int, int]]:
    pipelines: list[Entry] = []
    stages: list[Entry] = []
    first_stage: dict[int, int] = {}
    plans = (
        ("Default Pipeline", ("New", "Demo", "Negotiation", "Won", "Lost")),
        ("Renewals", ("Due", "Won", "Lost")),
    )
    for position, (name, stage_names) in enumerate(plans, start=1):
        pipeline_id = new()
        pipelines.append(
            {"id": pipeline_id, "name": name, "position": position, "is_default": position == 1}
        )
        for stage_position, stage_name in enumerate(stage_names, start=1):
            stage_id = new()
            first_stage.setdefault(pipeline_id, stage_id)
            forecast = {"Won": "Closed Won", "Lost": "Closed Lost"}.get(stage_name, "Open")
            stages.append(
                {
                    "id": stage_id,
                    "name": stage_name,
                    "position": stage_position,
                    "forecast_type": forecast,
                    "deal_pipeline_id": pipeline_id,
                    "choice_type": forecast.split()[-1].lower(),
                }
            )
    return pipelines, stages, first_stage
