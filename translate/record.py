"""Building one Freshsales record from Segment traits, field by field, with a report of what was
left out. Shared by the person, the account and the deal of an identify, and a group's account."""

from __future__ import annotations

from collections.abc import Mapping

from translate.fields import (
    BUILTIN_FIELDS,
    PROTECTED,
    Fail,
    FieldCatalog,
    FieldType,
    Module,
    coerce,
    snake_case,
)
from translate.model import JSON, Notice, frozen


class Dropped:
    """What one translation dropped: trait paths that map to no field, and notices."""

    __slots__ = ("ignored", "notices")

    def __init__(self) -> None:
        self.ignored: list[str] = []
        self.notices: list[Notice] = []

    def notice(self, code: str, origin: str, detail: str) -> None:
        self.notices.append(Notice(code, origin, detail))


_ADDRESS_PARTS: Mapping[str, str] = {
    "street": "address",
    "city": "city",
    "state": "state",
    "postalCode": "zipcode",
    "postal_code": "zipcode",
    "zip": "zipcode",
    "zipcode": "zipcode",
    "country": "country",
}


_EXPECTED: Mapping[FieldType, str] = {
    FieldType.TEXT: "text",
    FieldType.NUMBER: "a number",
    FieldType.BOOLEAN: "true or false",
    FieldType.DATE: "a date",
    FieldType.LIST: "a list of text",
    FieldType.ANY: "a single text, number or true/false value",
}


# Enum attribute access costs about 0.25 µs on CPython 3.11; these run for every field.
_ANY = FieldType.ANY
_STRING_KINDS = frozenset({FieldType.TEXT, _ANY})


class RecordBuilder:
    """Collects the fields of one record of ``module``.

    Standard names are accepted when either the catalog or our built-in list knows them (the
    catalog's exact key set is unverified, so it may only add names, never hide a known one).
    ``cf_`` names are checked strictly against the catalog when it has this module: an unknown
    custom field would make Freshsales reject the whole request.
    """

    __slots__ = ("_builtin", "_catalog", "_custom", "_prefix", "_report", "fields", "module")

    def __init__(
        self, module: Module, catalog: FieldCatalog | None, report: Dropped, prefix: str = ""
    ) -> None:
        self.module = module
        self.fields: dict[str, JSON] = {}
        self._custom: dict[str, JSON] = {}
        self._builtin = BUILTIN_FIELDS[module]
        self._catalog = catalog.fields(module) if catalog is not None else None
        self._report = report
        self._prefix = prefix

    def put(self, name: str, value: object, origin: str) -> None:
        """Set a standard field that a mapping rule chose (first match wins)."""
        if value is None:
            return
        fields = self.fields
        catalog = self._catalog
        kind = catalog.get(name) if catalog is not None else None
        if kind is None:
            kind = self._builtin.get(name)
        if kind is None or name in fields:
            self._report.ignored.append(self._prefix + origin)
        elif type(value) is str and kind in _STRING_KINDS:
            fields[name] = value  # text for a text field: the common case, no coercion call
        else:
            self._store(fields, name, value, kind, origin)

    def put_key(self, name: str, value: str) -> None:
        """Set the field an upsert finds the record by (an account's or a deal's name): as given,
        whatever a catalog says of its type, since the upsert cannot go without it."""
        self.fields[name] = value

    def ignore(self, origin: str) -> None:
        self._report.ignored.append(self._prefix + origin)

    def notice(self, code: str, origin: str, detail: str) -> None:
        self._report.notice(code, self._prefix + origin, detail)

    def put_custom(self, name: str, value: object, origin: str) -> None:
        """Set a custom field a setting names (not a trait): checked like a ``cf_`` trait."""
        self._put_custom(name, origin, value)

    def put_trait(self, key: str, value: object) -> None:
        """Apply the generic rule: camelCase → snake_case; ``cf_`` → custom_field; a standard
        field → top level; anything else is ignored and reported."""
        if value is None:
            return
        name = snake_case(key)
        if name is None or name in PROTECTED:
            self._report.ignored.append(self._prefix + key)
        elif name.startswith("cf_"):
            self._put_custom(name, key, value)
        else:
            self.put(name, value, key)

    def put_address(self, value: object, origin: str = "address") -> None:
        """A Segment address object becomes the flat address fields; a string is the street."""
        if not isinstance(value, Mapping):
            self.put("address", value, origin)
            return
        for part, part_value in value.items():
            target = _ADDRESS_PARTS.get(part)
            if target is None:
                self._report.ignored.append(f"{self._prefix}{origin}.{part}")
            else:
                self.put(target, part_value, f"{origin}.{part}")

    def body(self) -> dict[str, JSON]:
        """The record's fields, with ``custom_field`` when any custom value was accepted."""
        if self._custom:
            self.fields["custom_field"] = frozen(self._custom)
        return self.fields

    def _put_custom(self, name: str, origin: str, value: object) -> None:
        if self._catalog is not None and name not in self._catalog:
            self._report.ignored.append(self._prefix + origin)
            self._report.notice(
                "unknown_custom_field",
                self._prefix + origin,
                f"{name} is not a custom field of {self.module.value} in Freshsales; create it"
                " there first (custom fields are never created automatically)",
            )
            return
        if name in self._custom:
            self._report.ignored.append(self._prefix + origin)
            return
        kind = self._catalog[name] if self._catalog is not None else _ANY
        if type(value) is str and kind in _STRING_KINDS:
            self._custom[name] = value  # as in put(): text for a text field, no coercion call
        else:
            self._store(self._custom, name, value, kind, origin)

    def _store(
        self, into: dict[str, JSON], name: str, value: object, kind: FieldType, origin: str
    ) -> None:
        coerced = coerce(value, kind)
        if isinstance(coerced, Fail):
            self._report.notice(
                "uncoercible_value",
                self._prefix + origin,
                f"{name} expects {_EXPECTED[kind]}; got {type(value).__name__}, field dropped",
            )
        else:
            into[name] = coerced
