"""One simulated Freshsales account (a flavour): its seed, catalog, records and quota.

Each flavour is a separate tenant, as a Suite and a Classic account are in reality: own ids, own
records, own rate windows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.simulator.catalog import build_catalog, modules_of, settings_answer
from sandbox.simulator.config import FLAVORS, SimulatorConfig
from sandbox.simulator.errors import ApiError
from sandbox.simulator.limits import RateWindows
from sandbox.simulator.records import Record, Store, Taken
from sandbox.simulator.render import Renderer
from sandbox.simulator.seed import build_seed
from sandbox.simulator.validate import Checker, Rules

PERSON_UNIQUE = ("emails", "mobile_number", "external_id")
TARGETS = {"Contact": "contacts", "SalesAccount": "sales_accounts", "Deal": "deals"}
# What a DELETE sends to the recycle bin and a forget purges (a sales activity is just removed).
RECYCLED = frozenset({"contacts", "sales_accounts", "deals", "leads"})
# Far above any record id an account will reach, so seeded and record ids never meet.
_SEED_OFFSET = 900_000_000
_FLAVOR_SPAN = 1_000_000_000


class Account:
    def __init__(self, config: SimulatorConfig, flavor: str, clock: Callable[[], float]) -> None:
        self.config = config
        self.flavor = flavor
        base = config.first_id + FLAVORS.index(flavor) * _FLAVOR_SPAN
        seed_ids = itertools.count(base + _SEED_OFFSET)
        self.seed = build_seed(config, flavor, seed_ids)
        self.catalog = build_catalog(config, flavor)
        self.settings = {
            module: settings_answer(fields, self.seed, seed_ids)
            for module, fields in self.catalog.items()
        }
        self.unique: dict[str, tuple[str, ...]] = {
            "contacts": PERSON_UNIQUE,
            "leads": PERSON_UNIQUE,
            "sales_accounts": ("name",),
            "deals": config.deal_unique_fields,
        }
        self.store = Store(
            modules_of(flavor),
            self.unique,
            itertools.count(base).__next__,
            clock,
            recycled=RECYCLED,
        )
        self.renderer = Renderer(self.catalog, self.store, config.zone(), zulu=flavor == "classic")
        self.target_types = {**TARGETS, **({"Lead": "leads"} if flavor == "classic" else {})}
        rules = Rules(
            ignore_unknown=config.ignore_unknown_fields,
            max_sales_accounts=config.max_sales_accounts,
            one_primary_required=config.one_primary_required,
            target_types=self.target_types,
        )
        self.checker = Checker(self.catalog, self, rules)
        self.windows = RateWindows(config.per_minute, config.per_hour)
        self._selector_ids = {name: self.seed.ids(name) for name in self.seed.selectors}

    # The validation Lookup.
    def selector_ids(self, selector: str) -> frozenset[int]:
        return self._selector_ids.get(selector, frozenset())

    def exists(self, module: str, record_id: int) -> bool:
        return self.store.exists(module, record_id)

    def save(self, module: str, ident: int | None, values: Mapping[str, Any]) -> Record:
        """Write with the defaults a new record takes; a unique clash is a 400."""
        if ident is None:
            values = {**self.defaults(module, values), **values}
        try:
            return self.store.write(module, ident, values)
        except Taken as taken:
            raise ApiError(400, self.taken_messages(module, taken.fields)) from None

    def check_unique(self, module: str, ident: int | None, values: Mapping[str, Any]) -> None:
        clashes = self.store.clashes(module, ident, values)
        if clashes:
            raise ApiError(400, self.taken_messages(module, clashes))

    def taken_messages(self, module: str, fields: list[str]) -> list[str]:
        catalog = self.catalog[module]
        labels = {**catalog.standard, **catalog.custom}
        return [f"{labels[f].label if f in labels else f} has already been taken" for f in fields]

    def defaults(self, module: str, given: Mapping[str, Any]) -> dict[str, Any]:
        """What a new record gets when the write leaves it out.

        Real Freshsales assigns the creating user as owner; the API key belongs to the first owner.
        """
        if module == "sales_activities":
            return {}
        values: dict[str, Any] = {"owner_id": self.seed.default_owner_id}
        if module == "contacts" and self.flavor == "suite":
            values["lifecycle_stage_id"] = self.seed.default_stage_id
        if module == "deals":
            pipeline = given.get("deal_pipeline_id") or self.seed.default_pipeline_id
            values["deal_pipeline_id"] = pipeline
            values["deal_stage_id"] = self.seed.first_stage_of_pipeline[pipeline]
        return values

    def forget(self, module: str, ident: int) -> bool:
        """Purge a record, live or in the bin, with the sales activities about it."""
        targeted_as = next(kind for kind, target in self.target_types.items() if target == module)
        return self.store.forget(module, ident, targeted_as)

    def render(self, module: str, record: Record, *, accounts: bool = False) -> dict[str, Any]:
        return self.renderer.record(module, record, accounts=accounts)

    def state(self) -> dict[str, list[dict[str, Any]]]:
        state = {
            module: [self.render(module, r, accounts=True) for r in records.values()]
            for module, records in self.store.records.items()
        }
        state["recycle_bin"] = [
            {
                "module": module,
                "deleted_at": self.renderer.stamp(record["deleted_at"]),
                "record": self.render(module, record, accounts=True),
            }
            for (module, _), record in self.store.bin.items()
        ]
        return state
