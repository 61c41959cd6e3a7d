"""Finding people by email or another unique value (reference §8): filtered search and lookup.

Both read live records only: a record in the recycle bin is not found (docs/simulator.md, a
decision). Both scan the module rather than an index, because they match any email of a record,
not just the primary one the index holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sandbox.simulator.errors import ApiError
from sandbox.simulator.handlers import Answer, Call, includes_accounts
from sandbox.simulator.records import Record

# The one filter served per module: its email, with the only operator the product needs.
EMAIL_ATTRIBUTES: Mapping[str, str] = {
    "contacts": "contact_email.email",
    "leads": "lead_email.email",
}
OPERATOR = "is_in"
# The lookup's ``entities`` names and ``f`` fields.
ENTITIES: Mapping[str, str] = {"contact": "contacts", "lead": "leads"}
LOOKUP_FIELDS = ("email", "mobile_number", "external_id")


def filtered_search(call: Call) -> Answer:
    wanted = _email_rules(call.body, EMAIL_ATTRIBUTES[call.module])
    found = [
        record
        for record in call.account.store.records[call.module].values()
        if all(_emails(record) & emails for emails in wanted)
    ]
    return 200, {call.module: _rendered(call, call.module, found), "meta": {"total": len(found)}}


def lookup(call: Call) -> Answer:
    modules = _entities(call)
    refused = [module for module in modules if module in call.forbidden]
    if refused:
        raise ApiError(403, f"This API key has no access to {refused[0]}")
    value, field = call.query.get("q", ""), call.query.get("f", "")
    messages = [] if value else ["q can't be blank"]
    if field not in LOOKUP_FIELDS:
        messages.append(f"f must be one of: {', '.join(LOOKUP_FIELDS)}")
    if messages:
        raise ApiError(400, messages)
    answer = {}
    for module in modules:
        records = call.account.store.records[module].values()
        found = [record for record in records if _holds(record, field, value)]
        answer[module] = {module: _rendered(call, module, found)}
    return 200, answer


def _email_rules(body: Mapping[str, Any], attribute: str) -> list[set[str]]:
    """The casefolded emails of each rule (a record must match every rule); 400 when the body is
    not ``{"filter_rule": [{"attribute", "operator", "value"}, …]}``."""
    messages = [f"Unknown parameter '{key}'" for key in body if key != "filter_rule"]
    rules = body.get("filter_rule")
    if rules is None:
        raise ApiError(400, [*messages, "filter_rule can't be blank"])
    shape = "filter_rule must be a non-empty list of {attribute, operator, value} objects"
    if not isinstance(rules, list) or not rules or not all(isinstance(r, Mapping) for r in rules):
        raise ApiError(400, [*messages, shape])
    wanted = []
    for place, rule in enumerate(rules):
        where = f"filter_rule[{place}]"
        messages += [f"{where}: unknown key '{key}'" for key in rule if key not in _RULE_KEYS]
        if rule.get("attribute") != attribute:
            messages.append(f"{where}: unknown attribute {rule.get('attribute')!r} ({attribute})")
        if rule.get("operator") != OPERATOR:
            messages.append(f"{where}: unknown operator {rule.get('operator')!r} ({OPERATOR})")
        value = rule.get("value")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            messages.append(f"{where}: value must be a list of emails")
        else:
            wanted.append({email.casefold() for email in value})
    if messages:
        raise ApiError(400, messages)
    return wanted


_RULE_KEYS = frozenset({"attribute", "operator", "value"})


def _entities(call: Call) -> list[str]:
    names = [name for name in call.query.get("entities", "").split(",") if name]
    if not names:
        raise ApiError(400, "entities can't be blank (contact, lead)")
    modules = {name: ENTITIES.get(name) for name in names}
    unknown = [n for n, m in modules.items() if m is None or m not in call.account.store.records]
    if unknown:
        raise ApiError(400, [f"Unknown entity '{name}'" for name in unknown])
    return [module for module in dict.fromkeys(modules.values()) if module is not None]


def _holds(record: Record, field: str, value: str) -> bool:
    if field == "email":
        return value.casefold() in _emails(record)
    held = record.get(field)
    return held is not None and str(held) == value


def _emails(record: Record) -> set[str]:
    return {str(row["value"]).casefold() for row in record.get("emails", ())}


def _rendered(call: Call, module: str, records: Iterable[Record]) -> list[dict[str, Any]]:
    accounts = includes_accounts(call)
    return [call.account.render(module, record, accounts=accounts) for record in records]
