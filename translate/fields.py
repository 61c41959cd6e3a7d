"""Field names and types: camelCase → snake_case, the field catalog, lossless coercion.

Freshsales rejects a whole request for one unknown custom field or one value of the wrong type, so
these rules decide, per field, whether a value is sent, converted, or dropped with a notice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from translate.errors import CatalogError
from translate.model import JSON


class Module(StrEnum):
    """Freshsales modules whose fields a trait can set. Values are the API's path segments."""

    CONTACTS = "contacts"
    LEADS = "leads"
    SALES_ACCOUNTS = "sales_accounts"
    DEALS = "deals"


class FieldType(StrEnum):
    """What we need to know of a field's type to coerce a value losslessly."""

    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    LIST = "list"
    ANY = "any"


# Freshsales' own type names (settings/*/fields) → ours. Unknown names are treated as ANY: we
# would rather send a scalar as given than drop data on a type we have not seen.
_FRESHSALES_TYPES: Final[Mapping[str, FieldType]] = MappingProxyType(
    {
        "text": FieldType.TEXT,
        "textarea": FieldType.TEXT,
        "paragraph": FieldType.TEXT,
        "dropdown": FieldType.TEXT,
        "radio": FieldType.TEXT,
        "auto_complete": FieldType.TEXT,
        "url": FieldType.TEXT,
        "email": FieldType.TEXT,
        "phone_number": FieldType.TEXT,
        "number": FieldType.NUMBER,
        "decimal": FieldType.NUMBER,
        "integer": FieldType.NUMBER,
        "currency": FieldType.NUMBER,
        "checkbox": FieldType.BOOLEAN,
        "boolean": FieldType.BOOLEAN,
        "date": FieldType.DATE,
        "tags": FieldType.LIST,
    }
)

_T, _N, _D, _L = FieldType.TEXT, FieldType.NUMBER, FieldType.DATE, FieldType.LIST
_PERSON_COMMON: Final = {
    **dict.fromkeys(
        [
            "first_name",
            "last_name",
            "job_title",
            "work_number",
            "mobile_number",
            "address",
            "city",
            "state",
            "zipcode",
            "country",
            "time_zone",
            "locale",
            "medium",
            "keyword",
            "facebook",
            "twitter",
            "linkedin",
        ],
        _T,
    ),
    **dict.fromkeys(["owner_id", "territory_id", "lead_source_id", "campaign_id"], _N),
    "tags": _L,
}
_PLACE: Final = dict.fromkeys(["address", "city", "state", "zipcode", "country"], _T)

# Writable standard fields per module, used when no catalog was read (or it lacks the module).
# The field sets of Freshsales' recorded answers (docs/simulator.md lists them, with sources).
BUILTIN_FIELDS: Final[Mapping[Module, Mapping[str, FieldType]]] = MappingProxyType(
    {
        Module.CONTACTS: MappingProxyType(
            {
                **_PERSON_COMMON,
                "work_email": _T,
                "contact_status_id": _N,
                "lifecycle_stage_id": _N,
                "subscription_status": _N,
            }
        ),
        Module.LEADS: MappingProxyType(
            {**_PERSON_COMMON, "lead_stage_id": _N, "lead_reason_id": _N}
        ),
        Module.SALES_ACCOUNTS: MappingProxyType(
            {
                **_PLACE,
                **dict.fromkeys(
                    ["name", "phone", "website", "facebook", "twitter", "linkedin"], _T
                ),
                **dict.fromkeys(
                    [
                        "number_of_employees",
                        "annual_revenue",
                        "industry_type_id",
                        "business_type_id",
                        "territory_id",
                        "owner_id",
                        "parent_sales_account_id",
                    ],
                    _N,
                ),
                "tags": _L,
            }
        ),
        Module.DEALS: MappingProxyType(
            {
                "name": _T,
                **dict.fromkeys(
                    [
                        "amount",
                        "probability",
                        "deal_pipeline_id",
                        "deal_stage_id",
                        "owner_id",
                        "currency_id",
                        "deal_type_id",
                        "deal_reason_id",
                        "lead_source_id",
                        "campaign_id",
                        "territory_id",
                    ],
                    _N,
                ),
                "expected_close": _D,
                "tags": _L,
            }
        ),
    }
)

# Set by this product itself (identifiers, associations) or read-only in Freshsales: a trait of
# that name must never reach the body, whatever a catalog says.
PROTECTED: Final = frozenset(
    [
        "id",
        "emails",
        "email",
        "external_id",
        "sales_accounts",
        "sales_account_id",
        "contacts_added_list",
        "custom_field",
        "created_at",
        "updated_at",
        "display_name",
        "company",
        "deal",
        "lead",
        "contact",
    ]
)


@dataclass(frozen=True, slots=True)
class FieldCatalog:
    """Field names and types per module, as read from ``GET …/settings/{module}/fields``."""

    modules: Mapping[Module, Mapping[str, FieldType]]

    def fields(self, module: Module) -> Mapping[str, FieldType] | None:
        return self.modules.get(module)

    @classmethod
    def from_json(cls, value: object) -> FieldCatalog:
        """Build from ``{"contacts": {"fields": [{"name", "type", …}]}, …}``.

        Each module may also be given as the bare list of fields. Unknown module names are refused
        so that a typo does not silently leave a module without its catalog.
        """
        if not isinstance(value, Mapping):
            raise CatalogError("a field catalog must be a JSON object keyed by module")
        modules: dict[Module, Mapping[str, FieldType]] = {}
        for key, answer in value.items():
            try:
                module = Module(key)
            except ValueError:
                known = ", ".join(m.value for m in Module)
                raise CatalogError(f"unknown module {key!r} (expected one of {known})") from None
            modules[module] = MappingProxyType(_parse_fields(module, answer))
        return cls(MappingProxyType(modules))


def _parse_fields(module: Module, answer: object) -> dict[str, FieldType]:
    fields = answer.get("fields") if isinstance(answer, Mapping) else answer
    if not isinstance(fields, list):
        raise CatalogError(f"{module}: expected a list of fields or {{'fields': [...]}}")
    parsed: dict[str, FieldType] = {}
    for entry in fields:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise CatalogError(f"{module}: every field needs a string 'name'")
        kind = entry.get("type")
        parsed[entry["name"]] = (
            _FRESHSALES_TYPES.get(kind, FieldType.ANY) if isinstance(kind, str) else FieldType.ANY
        )
    return parsed


_CAMEL_WORD = re.compile(r"(.)([A-Z][a-z]+)")
_CAMEL_TAIL = re.compile(r"([a-z0-9])([A-Z])")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


@lru_cache(maxsize=4096)
def snake_case(name: str) -> str | None:
    """``cfAlternateNumber`` → ``cf_alternate_number``; None when the result cannot be a field."""
    snake = _CAMEL_TAIL.sub(r"\1_\2", _CAMEL_WORD.sub(r"\1_\2", name)).lower()
    return snake if _FIELD_NAME.match(snake) and snake != "cf_" else None


class Fail:
    """The one value meaning "this value cannot become that type without losing something"."""

    __slots__ = ()


FAIL: Final = Fail()

# Freshsales ids are signed 64-bit integers; a larger one would also break the JSON encoder.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_INT_TEXT = re.compile(r"[+-]?\d{1,19}\Z")
# A decimal needs a point or an exponent: a run of 20+ digits would lose digits as a float.
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+(?=[eE]))([eE][+-]?\d{1,3})?\Z")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def coerce(value: object, kind: FieldType) -> JSON | Fail:
    """Convert ``value`` to ``kind`` when no information is lost, else return :data:`FAIL`."""
    return _COERCERS[kind](value)


def _scalar(value: object) -> JSON | Fail:
    if isinstance(value, (str, bool)):  # a tuple: faster than a union on this hot path
        return value
    return _number(value)


def _text(value: object) -> JSON | Fail:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return FAIL
    number = _number(value)
    return number if isinstance(number, Fail) else str(number)


def _number(value: object) -> JSON | Fail:
    if isinstance(value, bool):
        return FAIL
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _INT_MAX else FAIL
    if isinstance(value, float):
        return value if math.isfinite(value) else FAIL
    if isinstance(value, str):
        text = value.strip()
        if _INT_TEXT.match(text):
            return _number(int(text))
        if _DECIMAL_TEXT.match(text):
            return _number(float(text))
    return FAIL


def _boolean(value: object) -> JSON | Fail:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return FAIL


def _date(value: object) -> JSON | Fail:
    if not isinstance(value, str):
        return FAIL
    text = value.strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        return FAIL


def _list(value: object) -> JSON | Fail:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return FAIL


_COERCERS: Final[Mapping[FieldType, Callable[[object], JSON | Fail]]] = {
    FieldType.TEXT: _text,
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.LIST: _list,
    FieldType.ANY: _scalar,
}
