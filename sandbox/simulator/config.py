"""What a simulated Freshsales account holds and how the simulated server misbehaves.

Every choice the reference marks UNCERTAIN (docs/simulator.md, "Decisions where the real API is
unverified") that a client could meet either way is a switch here, so tests can run the client
against both answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from types import MappingProxyType
from typing import Final

FLAVORS: Final = ("suite", "classic")
PREFIXES: Final[Mapping[str, str]] = MappingProxyType(
    {"suite": "/crm/sales/api", "classic": "/api"}
)

DEFAULT_ACTIVITY_TYPES: Final = (
    "Chat",
    "Phone",
    "Meeting",
    "Task",
    "Email",
    "SMS Outgoing",
    "SMS Incoming",
    "Reminder",
    "Segment Event",
    "Page View",
)

CUSTOM_FIELD_TYPES: Final = frozenset(
    {"text", "textarea", "number", "checkbox", "date", "dropdown", "url", "phone_number", "email"}
)


@dataclass(frozen=True)
class CustomField:
    """A ``cf_…`` field an admin created; ``type`` is Freshsales' own type name."""

    name: str
    type: str
    choices: tuple[str, ...] = ()
    label: str | None = None

    def __post_init__(self) -> None:
        if not self.name.startswith("cf_"):
            raise ValueError(f"custom field names start with cf_: {self.name!r}")
        if self.type not in CUSTOM_FIELD_TYPES:
            raise ValueError(f"{self.name}: unsupported custom field type {self.type!r}")
        if (self.type == "dropdown") != bool(self.choices):
            raise ValueError(f"{self.name}: choices go with, and only with, a dropdown")


_PERSON_CUSTOM: Final = (
    CustomField("cf_alternate_number", "text"),
    CustomField("cf_lifetime_value", "number"),
    CustomField("cf_newsletter", "checkbox"),
    CustomField("cf_signup_date", "date"),
    CustomField("cf_plan", "dropdown", ("Free", "Pro", "Enterprise")),
)

DEFAULT_CUSTOM_FIELDS: Final[Mapping[str, tuple[CustomField, ...]]] = MappingProxyType(
    {
        "contacts": _PERSON_CUSTOM,
        "leads": _PERSON_CUSTOM,
        "sales_accounts": (
            CustomField("cf_tier", "dropdown", ("Gold", "Silver", "Bronze")),
            CustomField("cf_region", "text"),
            CustomField("cf_verified", "checkbox"),
        ),
        "deals": (
            CustomField("cf_order_id", "text"),
            CustomField("cf_seats", "number"),
            CustomField("cf_renewal_date", "date"),
        ),
    }
)


def _no_limited_keys() -> Mapping[str, frozenset[str]]:
    return MappingProxyType({})


def _default_custom_fields() -> Mapping[str, tuple[CustomField, ...]]:
    return DEFAULT_CUSTOM_FIELDS


@dataclass(frozen=True)
class SimulatorConfig:
    """One simulated Freshsales tenant per flavour, and the faults its server injects."""

    api_key: str = "sim-api-key"
    # Other valid keys → the modules (first path segment) they may not touch: 403 there.
    limited_keys: Mapping[str, frozenset[str]] = field(default_factory=_no_limited_keys)
    flavors: tuple[str, ...] = FLAVORS
    per_minute: int = 400  # 0 = unlimited
    per_hour: int = 1000  # 0 = unlimited
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    latency_ms: float = 0.0
    seed: int = 0
    create_status: int = 200
    ignore_unknown_fields: bool = False
    accept_unwrapped: bool = False
    rate_limit_headers: bool = False
    # Deals have no default unique field; the mapping upserts them by name (docs/mapping.md).
    deal_unique_fields: tuple[str, ...] = ("name",)
    activity_types: tuple[str, ...] = DEFAULT_ACTIVITY_TYPES
    utc_offset: str = "-04:00"
    custom_fields: Mapping[str, tuple[CustomField, ...]] = field(
        default_factory=_default_custom_fields
    )
    owners: tuple[str, ...] = ("Sam Admin", "Riley Seller")  # the first owns the API key
    max_sales_accounts: int = 25  # reference §8 (it supersedes "≤ 10" of earlier sections)
    one_primary_required: bool = True
    # An admin can bar users from forgetting records: DELETE …/forget is then a 403, while a plain
    # DELETE (to the recycle bin) still works.
    forget_allowed: bool = True
    first_id: int = 70_000_000_001
    # The request log keeps the most recent entries only, so a long benchmark run stays bounded.
    log_limit: int = 10_000  # 0 = keep every request

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise ValueError("; ".join(problems))

    def _problems(self) -> list[str]:
        problems = []
        if not self.flavors or not set(self.flavors) <= set(FLAVORS):
            problems.append(f"flavors must be a non-empty subset of {FLAVORS}")
        if self.per_minute < 0 or self.per_hour < 0:
            problems.append("per_minute and per_hour must be >= 0 (0 = unlimited)")
        if self.log_limit < 0:
            problems.append("log_limit must be >= 0 (0 = keep every request)")
        for name in ("fail_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be within 0..1")
        if self.fail_rate + self.drop_rate > 1.0:
            problems.append("fail_rate + drop_rate must not exceed 1")
        if self.latency_ms < 0:
            problems.append("latency_ms must be >= 0")
        if self.create_status not in (200, 201):
            problems.append("create_status must be 200 or 201")
        if not self.owners:
            problems.append("at least one owner is needed")
        if self.max_sales_accounts < 1:
            problems.append("max_sales_accounts must be >= 1")
        if not set(self.custom_fields) <= {"contacts", "leads", "sales_accounts", "deals"}:
            problems.append("custom_fields keys are contacts, leads, sales_accounts, deals")
        try:
            self.zone()
        except ValueError:
            problems.append(f"utc_offset must look like -04:00, got {self.utc_offset!r}")
        return problems

    def zone(self) -> tzinfo:
        """The account's UTC offset; Suite answers carry it on every timestamp."""
        zone = datetime.fromisoformat("2000-01-01T00:00:00" + self.utc_offset).tzinfo
        if zone is None:
            raise ValueError(self.utc_offset)
        offset = zone.utcoffset(None)
        return timezone(offset if offset is not None else timedelta(0))
