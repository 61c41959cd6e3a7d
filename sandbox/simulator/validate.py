"""Field validation of a write against the simulator's catalog (docs/simulator.md, "What it
enforces").

A write is checked whole: every bad field gets its one message, so a client sees all its mistakes
in one 400, and values come back cleaned (ids as ints, emails as a list, datetimes parsed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from sandbox.simulator import scalars
from sandbox.simulator.catalog import Field, Kind, ModuleFields
from sandbox.simulator.scalars import Invalid, check_id


class Lookup(Protocol):
    """What validation needs to know of the account: seeded ids and existing records."""

    def selector_ids(self, selector: str) -> frozenset[int]: ...

    def exists(self, module: str, record_id: int) -> bool: ...


@dataclass(frozen=True)
class Rules:
    """Account-level settings the checks depend on."""

    ignore_unknown: bool
    max_sales_accounts: int
    one_primary_required: bool
    target_types: Mapping[str, str]  # targetable_type → module


class Checker:
    def __init__(self, catalog: Mapping[str, ModuleFields], lookup: Lookup, rules: Rules) -> None:
        self.catalog = catalog
        self.lookup = lookup
        self.rules = rules
        self._kinds: Mapping[Kind, Callable[[Field, object], Any]] = {
            Kind.TEXT: scalars.as_text,
            Kind.EMAIL: scalars.as_email,
            Kind.NUMBER: scalars.as_number,
            Kind.CHECKBOX: scalars.as_checkbox,
            Kind.DATE: scalars.as_date,
            Kind.DATETIME: scalars.as_datetime,
            Kind.CHOICE: scalars.as_choice,
            Kind.SELECTOR: self._selector,
            Kind.RECORD: self._record,
            Kind.RECORD_LIST: self._records,
            Kind.EMAILS: scalars.as_emails,
            Kind.TAGS: scalars.as_tags,
            Kind.ACCOUNTS: self._accounts,
            Kind.NESTED: self._nested,
            Kind.TARGET_TYPE: self._target_type,
            Kind.TARGET_ID: check_id,  # its existence is checked with the type
        }

    def check(
        self, module: str, body: Mapping[str, object], *, creating: bool, path: str = ""
    ) -> tuple[dict[str, Any], list[str]]:
        """Cleaned values and one message per bad field; ``creating`` adds the required checks."""
        fields = self.catalog[module]
        values: dict[str, Any] = {}
        messages: list[str] = []
        for name, value in body.items():
            if name == "custom_field":
                values[name] = self._custom(fields, value, messages, path)
                continue
            field = fields.standard.get(name)
            if field is None:
                if not self.rules.ignore_unknown:
                    messages.append(f"Unknown field '{path}{name}'")
                continue
            try:
                values[name] = self._value(field, value)
            except Invalid as problem:
                messages.append(str(problem))
        if creating:
            messages.extend(
                f"{f.label} can't be blank"
                for f in fields.standard.values()
                if f.required and f.name not in body
            )
        return values, messages

    def _custom(
        self, fields: ModuleFields, value: object, messages: list[str], path: str
    ) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            messages.append("Custom field must be an object of cf_ fields")
            return {}
        clean = {}
        for name, item in value.items():
            field = fields.custom.get(name)
            if field is None:
                if not self.rules.ignore_unknown:
                    messages.append(f"Unknown field '{path}custom_field.{name}'")
                continue
            try:
                clean[name] = self._value(field, item)
            except Invalid as problem:
                messages.append(str(problem))
        return clean

    def _value(self, field: Field, value: object) -> Any:
        if value is None or (value == "" and field.kind is Kind.TEXT):
            if field.required or field.not_null:
                raise Invalid(f"{field.label} can't be blank")
            return [] if field.kind in _LISTS else None
        return self._kinds[field.kind](field, value)

    def _selector(self, field: Field, value: object) -> int:
        ident = check_id(field, value)
        if field.target is None or ident not in self.lookup.selector_ids(field.target):
            raise Invalid(f"{field.label} {ident} does not exist")
        return ident

    def _record(self, field: Field, value: object) -> int:
        ident = check_id(field, value)
        if field.target is None or not self.lookup.exists(field.target, ident):
            raise Invalid(f"{field.label} {ident} does not exist")
        return ident

    def _records(self, field: Field, value: object) -> list[int]:
        if not isinstance(value, list) or field.target is None:
            raise Invalid(f"{field.label} must be a list of ids")
        # Each item is named for one record: "Contact 5 does not exist".
        item = replace(field, label=field.target.removesuffix("s").replace("_", " ").capitalize())
        return [self._record(item, entry) for entry in value]

    def _accounts(self, field: Field, value: object) -> list[tuple[int, bool]]:
        shape = f"{field.label} must be a list of {{id, is_primary}} objects"
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise Invalid(shape)
        if len(value) > self.rules.max_sales_accounts:
            raise Invalid(f"{field.label} can have at most {self.rules.max_sales_accounts} entries")
        links = []
        for entry in value:
            primary = entry.get("is_primary", False)
            if not isinstance(primary, bool) or set(entry) - {"id", "is_primary", "_destroy"}:
                raise Invalid(shape)
            if entry.get("_destroy") is True:
                continue
            links.append((self._record(_ACCOUNT, entry.get("id")), primary))
        primaries = sum(primary for _, primary in links)
        if links and self.rules.one_primary_required and primaries != 1:
            raise Invalid(f"{field.label} need exactly one primary account (is_primary: true)")
        if primaries > 1:  # whether none may be primary is unsure; two never can be
            raise Invalid(f"{field.label} can have only one primary account")
        if len({ident for ident, _ in links}) != len(links):
            raise Invalid(f"{field.label} list an account more than once")
        return links

    def _nested(self, field: Field, value: object) -> dict[str, Any]:
        if not isinstance(value, Mapping) or field.target is None:
            raise Invalid(f"{field.label} must be an object")
        clean, messages = self.check(field.target, value, creating=True, path=f"{field.name}.")
        if messages:
            raise Invalid(f"{field.label}: " + "; ".join(messages))
        return clean

    def _target_type(self, field: Field, value: object) -> str:
        if value not in self.rules.target_types:
            raise Invalid(f"{field.label} must be one of: {', '.join(self.rules.target_types)}")
        return str(value)


_LISTS: Final = frozenset({Kind.EMAILS, Kind.TAGS, Kind.ACCOUNTS})
_ACCOUNT: Final = Field("id", "Sales account", "auto_complete", Kind.RECORD, "sales_accounts")
