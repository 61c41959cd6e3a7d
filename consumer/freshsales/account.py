"""What the service reads about the Freshsales account at start-up (and on a slow refresh).

Names in the configuration (activity types, the lead stage, stages of the stage map) become ids
here, once; events never pay a call for them. A configured name the account does not have is a
configuration error at start-up, not a dead letter per event. The field catalog and the industry
types are best-effort: without the catalog translation falls back to sending every mapped name
(docs/mapping.md); without the industry types an account's industry is not sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from consumer.errors import ConfigurationError, RejectedError, TransientError
from consumer.freshsales.answers import Caller
from translate import CatalogError, FieldCatalog, Flavor, LookupKind, Lookups, Module


@dataclass(frozen=True)
class Wanted:
    """The account settings a configuration refers to by name."""

    flavor: Flavor
    activity_types: tuple[str, ...]
    stages: tuple[str, ...]
    default_owner_id: int | None = None
    industry_types: bool = False
    """Read the industry types: accounts may come (group, identify's company) with an industry."""


@dataclass(frozen=True)
class Account:
    lookups: Lookups
    catalog: FieldCatalog | None
    calls: int
    catalog_problems: tuple[str, ...] = ()
    industry_types: tuple[str, ...] | None = None
    """The account's industry type names; None when not read (not wanted, or unreadable)."""


async def read_account(client: Caller, wanted: Wanted) -> Account:
    """Resolve every wanted name; raise ConfigurationError naming all that are missing.

    Errors of the calls themselves propagate (AccessDenied for a bad key, TransientError…).
    """
    calls = 0
    selectors = ["sales_activity_types", "owners"]
    if wanted.flavor is Flavor.SUITE and wanted.stages:
        selectors.append("lifecycle_stages")
    answers: dict[str, Mapping[str, object]] = {}
    for name in selectors:
        answers[name] = (await client.call("GET", f"selector/{name}")).body
        calls += 1
    problems: list[str] = []
    if wanted.industry_types:
        try:
            answers["industry_types"] = (await client.call("GET", "selector/industry_types")).body
        except (TransientError, RejectedError) as exc:
            problems.append(f"industry types: {exc}")
        calls += 1
    lookups = resolve(answers, wanted)
    fields: dict[str, object] = {}
    for module in _modules(wanted.flavor):
        try:
            fields[module.value] = (await client.call("GET", f"settings/{module}/fields")).body
        except (TransientError, RejectedError) as exc:
            problems.append(f"{module}: {exc}")
        calls += 1
    try:
        catalog = FieldCatalog.from_json(fields) if fields else None
    except CatalogError as exc:
        catalog, problems = None, [*problems, str(exc)]
    industries = None
    if "industry_types" in answers:
        industries = tuple(_ids_by_name(answers["industry_types"], "industry_types"))
    return Account(lookups, catalog, calls, tuple(problems), industries)


def _modules(flavor: Flavor) -> Iterable[Module]:
    yield Module.CONTACTS
    if flavor is Flavor.CLASSIC:
        yield Module.LEADS
    yield Module.SALES_ACCOUNTS
    yield Module.DEALS


def resolve(answers: Mapping[str, Mapping[str, object]], wanted: Wanted) -> Lookups:
    """Pure: selector answers → ``(kind, name) → id``, or one error naming everything missing."""
    lookups: dict[tuple[LookupKind, str], int] = {}
    missing: list[str] = []
    named = [(LookupKind.SALES_ACTIVITY_TYPE, "sales_activity_types", wanted.activity_types)]
    if wanted.flavor is Flavor.SUITE:
        named.append((LookupKind.LIFECYCLE_STAGE, "lifecycle_stages", wanted.stages))
    for kind, selector, names in named:
        found = _ids_by_name(answers.get(selector, {}), selector)
        for name in names:
            if name in found:
                lookups[(kind, name)] = found[name]
            else:
                what = kind.value.replace("_", " ")
                missing.append(f"{what} {name!r} (have: {_names(found)})")
    # Every industry type, as events name them (an unknown one is reported by translation).
    for name, ident in _ids_by_name(answers.get("industry_types", {}), "industry_types").items():
        lookups[(LookupKind.INDUSTRY_TYPE, name)] = ident
    owners = _ids_by_name(answers.get("owners", {}), "users")
    owner_ids = set(owners.values())
    if wanted.default_owner_id is not None:
        if owner_ids and wanted.default_owner_id not in owner_ids:
            missing.append(f"owner id {wanted.default_owner_id} (FRESHSALES_DEFAULT_OWNER_ID)")
        lookups[(LookupKind.DEFAULT_OWNER, "")] = wanted.default_owner_id
    elif owners:
        # Activities need an owner; a person without one falls back to the account's first user.
        lookups[(LookupKind.DEFAULT_OWNER, "")] = next(iter(owners.values()))
    if missing:
        raise ConfigurationError(
            "the Freshsales account lacks what the configuration names: " + "; ".join(missing)
        )
    return lookups


def _ids_by_name(answer: Mapping[str, object], key: str) -> dict[str, int]:
    """``{"<key>": [{"id": …, "name": …}, …]}`` → name → id (the first of equal names wins)."""
    entries = answer.get(key)
    if not isinstance(entries, list):
        # Selectors answer under their own plural; owners come back as "users" on some accounts.
        entries = next((v for v in answer.values() if isinstance(v, list)), [])
    found: dict[str, int] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        name = entry.get("name") or entry.get("display_name")
        ident = entry.get("id")
        if isinstance(name, str) and isinstance(ident, int) and not isinstance(ident, bool):
            found.setdefault(name, ident)
    return found


def _names(found: Mapping[str, int]) -> str:
    return ", ".join(sorted(found)) or "none"
