"""Records as the API renders them: full, every known field present, timestamps with the offset.

Clients read answers, not the store, so the shapes follow the recorded responses
(docs/simulator.md): ``emails`` as rows with ``_destroy``, ``email`` mirroring the primary,
``display_name`` falling back to the email, ``custom_field`` always an object.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from sandbox.simulator.catalog import Kind, ModuleFields
from sandbox.simulator.records import Record, Store, primary_email

_LIST_DEFAULTS = {Kind.EMAILS, Kind.TAGS}


class Renderer:
    def __init__(
        self, catalog: Mapping[str, ModuleFields], store: Store, zone: tzinfo, *, zulu: bool
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.zone = zone
        # Classic answered in UTC with a Z (docs/simulator.md); Suite with the account offset.
        self.zulu = zulu

    def stamp(self, moment: float | datetime) -> str:
        if isinstance(moment, datetime):
            moment = moment.timestamp()
        if self.zulu:
            return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")[:-6] + "Z"
        return datetime.fromtimestamp(moment, self.zone).isoformat(timespec="seconds")

    def record(self, module: str, record: Record, *, accounts: bool = False) -> dict[str, Any]:
        fields = self.catalog[module]
        out: dict[str, Any] = {"id": record["id"]}
        for field in fields.standard.values():
            if field.write_only:
                continue
            value = record.get(field.name)
            if field.kind is Kind.DATETIME and value is not None:
                value = self.stamp(value)
            elif field.kind in _LIST_DEFAULTS:
                value = list(value or ())
            out[field.name] = value
        if "emails" in fields.standard:
            out["emails"] = [{**row, "_destroy": False} for row in record.get("emails", ())]
            out["email"] = primary_email(record)
            names = " ".join(n for n in (record.get("first_name"), record.get("last_name")) if n)
            out["display_name"] = names or out["email"] or record.get("mobile_number")
        if module == "deals":
            out["contact_ids"] = list(record.get("contact_ids", ()))
        if module == "leads":
            out["company"] = self._partial("sales_accounts", record.get("company_id"), "name")
            out["deal"] = self._partial("deals", record.get("deal_id"), "name", "amount")
        if module == "contacts" and accounts:
            out["sales_accounts"] = [
                self._account(ident, primary) for ident, primary in record.get("sales_accounts", ())
            ]
        out["custom_field"] = dict(record.get("custom_field", {}))
        out["created_at"] = self.stamp(record["created_at"])
        out["updated_at"] = self.stamp(record["updated_at"])
        return out

    def _partial(self, module: str, ident: int | None, *keys: str) -> dict[str, Any] | None:
        linked = self.store.get(module, ident) if ident is not None else None
        if linked is None:
            return None
        return {"id": ident, **{key: linked.get(key) for key in keys}}

    def _account(self, ident: int, primary: bool) -> dict[str, Any]:
        account = self.store.get("sales_accounts", ident) or {}
        return {
            "partial": True,
            "id": ident,
            "name": account.get("name"),
            "avatar": None,
            "website": account.get("website"),
            "last_contacted": None,
            # A string in recorded answers (RS-NET), unlike every other id.
            "record_type_id": "71000000001",
            "is_primary": primary,
        }
