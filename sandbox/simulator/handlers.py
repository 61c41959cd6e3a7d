"""The API operations on one account, free of HTTP: a parsed call in, ``(status, answer)`` out.

Upsert, plain create, field checks (in validate.py) and sales activities follow
docs/simulator.md, "What it enforces". Delete and forget are in deletion.py, the searches in
search.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.simulator.account import Account
from sandbox.simulator.errors import ApiError
from sandbox.simulator.records import Record
from sandbox.simulator.scalars import Email, is_email

Answer = tuple[int, Any]


@dataclass(frozen=True)
class Call:
    account: Account
    module: str
    ident: int | None
    query: Mapping[str, str]
    body: Mapping[str, Any]
    # The modules the calling key may not touch; the server refuses the route's own module
    # before the call, a handler reaching further (a lookup's entities) checks the others.
    forbidden: frozenset[str] = frozenset()


def create(call: Call) -> Answer:
    acct, module = call.account, call.module
    raw = _record_body(call, upsert=False)
    values, messages = acct.checker.check(module, raw, creating=True)
    messages += _activity_rules(acct, module, values, None)
    if messages:
        raise ApiError(400, messages)
    record = _save(acct, module, None, values)
    return acct.config.create_status, _wrap(call, record)


def upsert(call: Call) -> Answer:
    acct, module = call.account, call.module
    messages: list[str] = []
    key, value = _identifier(acct, module, call.body, messages)
    try:
        raw = dict(_record_body(call, upsert=True))
    except ApiError as error:
        raise ApiError(400, messages + error.messages) from None
    existing = acct.store.find(module, key, value) if key is not None else None
    creating = existing is None and key is not None
    if creating and key is not None:
        _write_identifier(raw, key, value)
    values, field_messages = acct.checker.check(module, raw, creating=creating)
    messages += field_messages
    if messages:
        raise ApiError(400, messages)
    if creating and key == "emails":
        values["emails"] = _with_primary(values.get("emails", []), str(value))
    record = _save(acct, module, _id_of(existing), values)
    return (200 if existing else acct.config.create_status), _wrap(call, record)


def show(call: Call) -> Answer:
    return 200, _wrap(call, _existing(call))


def update(call: Call) -> Answer:
    acct, module = call.account, call.module
    existing = _existing(call)
    values, messages = acct.checker.check(module, _record_body(call, upsert=False), creating=False)
    messages += _activity_rules(acct, module, values, existing)
    if messages:
        raise ApiError(400, messages)
    return 200, _wrap(call, _save(acct, module, existing["id"], values))


def index(call: Call) -> Answer:
    page = _bounded(call.query, "page", 1, 1, None)
    per_page = _bounded(call.query, "per_page", 25, 1, 100)
    records = list(call.account.store.records[call.module].values())
    chosen = records[(page - 1) * per_page : page * per_page]
    accounts = includes_accounts(call)
    return 200, {
        call.module: [call.account.render(call.module, r, accounts=accounts) for r in chosen],
        "meta": {"total_pages": math.ceil(len(records) / per_page), "total": len(records)},
    }


def selector(call: Call, name: str) -> Answer:
    entries = call.account.seed.selectors.get(name)
    if entries is None:
        raise ApiError(404, f"Unknown selector '{name}'")
    return 200, {name: entries}


def pipeline_stages(call: Call) -> Answer:
    stages = call.account.seed.selectors["deal_stages"]
    if call.ident not in call.account.selector_ids("deal_pipelines"):
        raise ApiError(404, f"Deal pipeline {call.ident} not found")
    return 200, {"deal_stages": [s for s in stages if s["deal_pipeline_id"] == call.ident]}


def settings(call: Call) -> Answer:
    return 200, call.account.settings[call.module]


def _save(acct: Account, module: str, ident: int | None, values: dict[str, Any]) -> Record:
    if module == "leads":
        # The lead's own clashes first, so a refused lead leaves no company or deal behind.
        own = {k: v for k, v in values.items() if k not in ("company", "deal")}
        acct.check_unique(module, ident, own)
        values = _nested(acct, own, values, acct.store.get(module, ident) if ident else None)
    return acct.save(module, ident, values)


def _nested(
    acct: Account, own: dict[str, Any], values: Mapping[str, Any], current: Record | None
) -> dict[str, Any]:
    """A classic lead's ``company`` and ``deal`` objects become linked records
    (docs/simulator.md)."""
    company, deal = values.get("company"), values.get("deal")
    if company:
        found = acct.store.find("sales_accounts", "name", company["name"])
        own["company_id"] = acct.save("sales_accounts", _id_of(found), company)["id"]
    if deal:
        found = acct.store.find("deals", "name", deal["name"])
        linked = acct.store.get("deals", (current or {}).get("deal_id") or 0)
        if found is None and linked is not None and linked.get("name") == deal["name"]:
            found = linked
        company_id = own.get("company_id") or (current or {}).get("company_id")
        if found is None and company_id:
            deal = {"sales_account_id": company_id, **deal}
        own["deal_id"] = acct.save("deals", _id_of(found), deal)["id"]
    return own


def _id_of(record: Record | None) -> int | None:
    return None if record is None else int(record["id"])


def _activity_rules(
    acct: Account, module: str, values: Mapping[str, Any], existing: Record | None
) -> list[str]:
    """Checks across fields of a sales activity, once each field is valid on its own."""
    if module != "sales_activities":
        return []
    merged = {**(existing or {}), **values}
    messages = []
    kind, target = merged.get("targetable_type"), merged.get("targetable_id")
    module_of_target = acct.target_types.get(kind) if isinstance(kind, str) else None
    if module_of_target and isinstance(target, int) and not acct.exists(module_of_target, target):
        messages.append(f"Targetable {kind} {target} does not exist")
    start, end = merged.get("start_date"), merged.get("end_date")
    if isinstance(start, datetime) and isinstance(end, datetime) and end < start:
        messages.append("End date must not be before the start date")
    return messages


def _identifier(
    acct: Account, module: str, body: Mapping[str, Any], messages: list[str]
) -> tuple[str | None, object]:
    ident = body.get("unique_identifier")
    unique = acct.unique[module]
    if ident is None:
        messages.append("unique_identifier can't be blank")
    elif not isinstance(ident, Mapping) or len(ident) != 1:
        messages.append("unique_identifier must be an object with exactly one field")
    else:
        ((key, value),) = ident.items()
        if key not in unique:
            known = ", ".join(unique) or "none configured"
            messages.append(f"unique_identifier: {key} is not a unique field ({known})")
        elif isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            messages.append(f"unique_identifier: {key} must be a non-empty string or number")
        elif key == "emails" and not is_email(value):
            messages.append(f"unique_identifier: {value!r} is not a valid email")
        else:
            return key, value
    return None, None


def _write_identifier(raw: dict[str, Any], key: str, value: object) -> None:
    """On create the identifier becomes the record's value (an explicit one in the body loses)."""
    if key == "emails":
        raw.setdefault("emails", value)
        if raw["emails"] is None:
            raw["emails"] = value
    elif key.startswith("cf_"):
        custom = raw.get("custom_field") or {}
        if isinstance(custom, Mapping):
            raw["custom_field"] = {**custom, key: value}
    else:
        raw[key] = value


def _with_primary(emails: list[Email], address: str) -> list[Email]:
    others = [
        Email(e.value, False, e.label) for e in emails if e.value.casefold() != address.casefold()
    ]
    return [Email(address, True), *others]


def _record_body(call: Call, *, upsert: bool) -> Mapping[str, Any]:
    acct = call.account
    singular = acct.catalog[call.module].singular
    body = call.body
    if singular in body:
        record = body[singular]
        if not isinstance(record, Mapping):
            raise ApiError(400, f"{singular} must be an object")
        extra = [k for k in body if k != singular and not (upsert and k == "unique_identifier")]
        if extra and not acct.config.ignore_unknown_fields:
            raise ApiError(400, [f"Unknown parameter '{k}'" for k in extra])
        return record
    if acct.config.accept_unwrapped:
        return {k: v for k, v in body.items() if k != "unique_identifier"}
    raise ApiError(400, f'The record must be wrapped: {{"{singular}": {{...}}}}')


def _existing(call: Call) -> Record:
    record = call.account.store.get(call.module, call.ident or 0)
    if record is None:
        raise not_found(call)
    return record


def not_found(call: Call) -> ApiError:
    """The 404 of a record id its module does not hold: "Deal 70000000999 not found"."""
    singular = call.account.catalog[call.module].singular.replace("_", " ").capitalize()
    return ApiError(404, f"{singular} {call.ident} not found")


def _wrap(call: Call, record: Record) -> dict[str, Any]:
    fields = call.account.catalog[call.module]
    accounts = includes_accounts(call)
    return {fields.singular: call.account.render(call.module, record, accounts=accounts)}


def includes_accounts(call: Call) -> bool:
    return "sales_accounts" in call.query.get("include", "").split(",")


def _bounded(query: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    text = query.get(name)
    if text is None:
        return default
    value = int(text) if text.isdigit() else 0
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"{name} must be a whole number {span}")
    return value
