"""The records of one simulated account, indexed by their unique fields.

A write is all or nothing: the new record is built beside the old one, its unique values are
checked against every other record, and only then does it replace the old one. Upsert look-ups
go through the indexes, so a benchmark with many records does not slow down per request.

A delete is soft, as in the real CRM: the record leaves its module (and every index, so its unique
values are free again) for the recycle bin. Only a forget purges it for good, bin included, with
the sales activities about it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sandbox.simulator.scalars import Email

Record = dict[str, Any]


class Taken(Exception):
    """Unique values another record already holds."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


def unique_key(field: str, value: object) -> str | None:
    """The index key of a unique value: emails compare case-insensitively, others exactly."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    text = value if isinstance(value, str) else str(value)
    return text.casefold() if field == "emails" else text


class Store:
    def __init__(
        self,
        modules: tuple[str, ...],
        unique: Mapping[str, tuple[str, ...]],
        new_id: Callable[[], int],
        clock: Callable[[], float],
        recycled: frozenset[str] = frozenset(),
    ) -> None:
        self.unique = unique
        self.new_id = new_id
        self.clock = clock
        self.records: dict[str, dict[int, Record]] = {m: {} for m in modules}
        self.recycled = recycled
        # Deleted records of the ``recycled`` modules, each with its ``deleted_at``, in the order
        # they were deleted.
        self.bin: dict[tuple[str, int], Record] = {}
        self._index: dict[str, dict[str, dict[str, int]]] = {
            m: {f: {} for f in unique.get(m, ())} for m in modules
        }

    def get(self, module: str, ident: int) -> Record | None:
        return self.records[module].get(ident)

    def exists(self, module: str, ident: int) -> bool:
        return ident in self.records.get(module, {})

    def find(self, module: str, field: str, value: object) -> Record | None:
        key = unique_key(field, value)
        ident = self._index[module].get(field, {}).get(key) if key is not None else None
        return None if ident is None else self.records[module][ident]

    def clashes(self, module: str, ident: int | None, values: Mapping[str, Any]) -> list[str]:
        """The unique fields whose new value another record already holds."""
        return self._clashes(module, ident, self._merged(module, ident, values))

    def write(self, module: str, ident: int | None, values: Mapping[str, Any]) -> Record:
        """Create (``ident`` None) or partially update a record; raises :class:`Taken`."""
        new = self._merged(module, ident, values)
        clashes = self._clashes(module, ident, new)
        if clashes:
            raise Taken(clashes)
        old = self.records[module].get(ident) if ident is not None else None
        if old is not None:
            self._unindex(module, old)
        else:
            new["id"] = self.new_id()
        for row in new.get("emails", ()):
            if row["id"] is None:
                row["id"] = self.new_id()
        self.records[module][new["id"]] = new
        for field, index in self._index[module].items():
            key = unique_key(field, _unique_value(new, field))
            if key is not None:
                index[key] = new["id"]
        return new

    def delete(self, module: str, ident: int) -> bool:
        """Take a live record out of its module: into the bin when the module has one."""
        record = self._remove(module, ident)
        if record is None:
            return False
        if module in self.recycled:
            self.bin[module, ident] = {**record, "deleted_at": self.clock()}
        return True

    def forget(self, module: str, ident: int, targeted_as: str) -> bool:
        """Purge a record, live or in the bin, and the sales activities whose target it is
        (``targetable_type`` ``targeted_as``); False when neither holds it."""
        record = self._remove(module, ident) or self.bin.pop((module, ident), None)
        if record is None:
            return False
        activities = self.records.get("sales_activities", {})
        about = [
            key
            for key, activity in activities.items()
            if activity.get("targetable_type") == targeted_as
            and activity.get("targetable_id") == ident
        ]
        for key in about:
            self._remove("sales_activities", key)
        return True

    def _remove(self, module: str, ident: int) -> Record | None:
        record = self.records[module].pop(ident, None)
        if record is None:
            return None
        self._unindex(module, record)
        # Links to a deleted record go too, as the real CRM drops them from the other side;
        # records in the bin lose them as well, so none ever points at a record that is gone.
        if module == "sales_accounts":
            for contact in self._everywhere("contacts"):
                links = contact.get("sales_accounts", [])
                contact["sales_accounts"] = [link for link in links if link[0] != ident]
            for deal in self._everywhere("deals"):
                if deal.get("sales_account_id") == ident:
                    deal["sales_account_id"] = None
        if module == "contacts":
            for deal in self._everywhere("deals"):
                deal["contact_ids"] = [c for c in deal.get("contact_ids", []) if c != ident]
        field = _LEAD_LINKS.get(module)
        for lead in self._everywhere("leads"):
            if field is not None and lead.get(field) == ident:
                lead[field] = None
        return record

    def _everywhere(self, module: str) -> Iterator[Record]:
        """The live records of a module, then those in its bin."""
        yield from self.records.get(module, {}).values()
        yield from (record for (held, _), record in self.bin.items() if held == module)

    def _merged(self, module: str, ident: int | None, values: Mapping[str, Any]) -> Record:
        now = self.clock()
        old = self.records[module].get(ident) if ident is not None else None
        if old is None:
            # Id 0 until written, so a dry run (clashes) uses up no id.
            new: Record = {"id": 0, "custom_field": {}, "created_at": now}
        else:
            new = dict(old)
        new["updated_at"] = now
        for name, value in values.items():
            if name == "custom_field":
                new[name] = {**new.get(name, {}), **value}
            elif name == "emails":
                new[name] = _email_rows(new.get(name, []), value)
            elif name == "contacts_added_list":
                known = new.get("contact_ids", [])
                new["contact_ids"] = known + [c for c in dict.fromkeys(value) if c not in known]
            else:
                new[name] = value
        return new

    def _clashes(self, module: str, ident: int | None, record: Record) -> list[str]:
        clashes = []
        for field, index in self._index[module].items():
            key = unique_key(field, _unique_value(record, field))
            holder = index.get(key) if key is not None else None
            if holder is not None and holder != record["id"]:
                clashes.append(field)
        return clashes

    def _unindex(self, module: str, record: Record) -> None:
        for field, index in self._index[module].items():
            key = unique_key(field, _unique_value(record, field))
            if key is not None and index.get(key) == record["id"]:
                del index[key]


# A Classic lead's own company and deal.
_LEAD_LINKS = {"sales_accounts": "company_id", "deals": "deal_id"}


def _email_rows(old: list[Record], emails: list[Email]) -> list[Record]:
    # An address written again keeps its id; new ones get theirs when the record is written.
    ids = {row["value"].casefold(): row["id"] for row in old}
    return [
        {
            "id": ids.get(email.value.casefold()),
            "value": email.value,
            "is_primary": email.is_primary,
            "label": email.label,
        }
        for email in emails
    ]


def primary_email(record: Record) -> str | None:
    for row in record.get("emails", ()):
        if row["is_primary"]:
            return str(row["value"])
    return None


def _unique_value(record: Record, field: str) -> object:
    if field == "emails":
        return primary_email(record)
    if field.startswith("cf_"):
        return record.get("custom_field", {}).get(field)
    return record.get(field)
