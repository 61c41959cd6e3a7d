"""What the service reads about the Freshsales account at start-up (and on a slow refresh).

Names in the configuration (activity types, the lead stage, stages of the stage map) become ids
here, once; events never pay a call for them. A configured name the account does not have is a
configuration error at start-up, not a dead letter per event. The field catalogs and the industry
types are optional reads: when Freshsales refuses one for good (a plan without the module), the
service runs without it — without a module's catalog translation sends that module's custom traits
unchecked (docs/mapping.md); without the industry types an account's industry is not sent.
``consumer.freshsales.reading`` decides what a failed read means; ``standing`` carries it out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from consumer.errors import ConfigurationError
from translate import CatalogError, FieldCatalog, Flavor, LookupKind, Lookups, Module

INDUSTRY_TYPES = "selector/industry_types"
WITHOUT_INDUSTRIES = "an account's industry is not sent"


def without_fields(module: Module) -> str:
    """What running without ``module``'s field catalog means."""
    return (
        f"custom traits of {module} go unchecked: Freshsales refuses a request naming one the"
        " account lacks (a rejected dead letter)"
    )


@dataclass(frozen=True)
class Wanted:
    """The account settings a configuration refers to by name."""

    flavor: Flavor
    activity_types: tuple[str, ...]
    stages: tuple[str, ...]
    default_owner_id: int | None = None
    industry_types: bool = False
    """Read the industry types: accounts may come (group, identify's company) with an industry."""


@dataclass(frozen=True, slots=True)
class Read:
    """One GET of the account's reads."""

    path: str
    without: str | None = None
    """What the service loses when Freshsales refuses this read for good; None when it cannot
    run without it (a selector the configured names are resolved against)."""

    @property
    def optional(self) -> bool:
        return self.without is not None


@dataclass(frozen=True)
class Account:
    lookups: Lookups
    catalog: FieldCatalog | None
    calls: int
    catalog_problems: tuple[str, ...] = ()
    """Optional reads refused for good, and a catalog that could not be built."""
    industry_types: tuple[str, ...] | None = None
    """The account's industry type names; None when not read (not wanted, or refused)."""


def reads(wanted: Wanted) -> tuple[Read, ...]:
    """The reads, in order: the selectors the names are resolved against first (so that a name
    the account lacks stops the start before the rest is read), then the optional ones."""
    selectors = ["sales_activity_types", "owners"]
    if wanted.flavor is Flavor.SUITE and wanted.stages:
        selectors.append("lifecycle_stages")
    found = [Read(f"selector/{name}") for name in selectors]
    if wanted.industry_types:
        found.append(Read(INDUSTRY_TYPES, WITHOUT_INDUSTRIES))
    found += [
        Read(f"settings/{module}/fields", without_fields(module))
        for module in _modules(wanted.flavor)
    ]
    return tuple(found)


def selectors(answers: Mapping[str, Mapping[str, object]]) -> dict[str, Mapping[str, object]]:
    """Selector answers by selector name, out of answers by path."""
    return {
        path.removeprefix("selector/"): answer
        for path, answer in answers.items()
        if path.startswith("selector/")
    }


def assemble(
    answers: Mapping[str, Mapping[str, object]],
    wanted: Wanted,
    *,
    calls: int,
    without: Mapping[str, str],
) -> Account:
    """Pure: the account out of the answers (by path) to ``reads(wanted)``; ``without``: the
    optional reads refused for good, with why. Raises ConfigurationError naming every missing
    name."""
    lookups = resolve(selectors(answers), wanted)
    fields = {
        path.split("/")[1]: answer
        for path, answer in answers.items()
        if path.startswith("settings/")
    }
    problems = [problem for path, problem in without.items() if path not in answers]
    try:
        catalog = FieldCatalog.from_json(fields) if fields else None
    except CatalogError as exc:
        catalog, problems = None, [*problems, str(exc)]
    industries = None
    if INDUSTRY_TYPES in answers:
        industries = tuple(_ids_by_name(answers[INDUSTRY_TYPES], "industry_types"))
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
