"""Start-up reads: which, in what order; configured names become ids, or one error names everything
missing; the account assembled from what was read, and from what was refused for good."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest

from consumer.errors import ConfigurationError
from consumer.freshsales.account import Wanted, assemble, reads, resolve
from translate import FieldType, Flavor, LookupKind, Module

ANSWERS = {
    "sales_activity_types": {
        "sales_activity_types": [{"id": 11, "name": "Segment Event"}, {"id": 12, "name": "Chat"}]
    },
    "lifecycle_stages": {"lifecycle_stages": [{"id": 21, "name": "Lead"}]},
    "owners": {"users": [{"id": 31, "display_name": "Ada"}, {"id": 32, "display_name": "Bo"}]},
}


def test_names_resolve_to_ids_and_the_first_user_is_the_default_owner() -> None:
    wanted = Wanted(Flavor.SUITE, activity_types=("Segment Event",), stages=("Lead",))
    assert resolve(ANSWERS, wanted) == {
        (LookupKind.SALES_ACTIVITY_TYPE, "Segment Event"): 11,
        (LookupKind.LIFECYCLE_STAGE, "Lead"): 21,
        (LookupKind.DEFAULT_OWNER, ""): 31,
    }


def test_a_configured_owner_wins_over_the_first_user() -> None:
    wanted = Wanted(Flavor.CLASSIC, ("Chat",), ("Ignored on Classic",), default_owner_id=32)
    assert resolve(ANSWERS, wanted)[(LookupKind.DEFAULT_OWNER, "")] == 32


def test_every_missing_name_is_named_in_one_error() -> None:
    wanted = Wanted(Flavor.SUITE, ("Page View",), ("Customer",), default_owner_id=99)
    with pytest.raises(ConfigurationError) as caught:
        resolve(ANSWERS, wanted)
    message = str(caught.value)
    assert "sales activity type 'Page View' (have: Chat, Segment Event)" in message
    assert "lifecycle stage 'Customer' (have: Lead)" in message
    assert "owner id 99 (FRESHSALES_DEFAULT_OWNER_ID)" in message


def test_industry_types_resolve_by_name_beside_the_configured_names() -> None:
    answers = {**ANSWERS, "industry_types": {"industry_types": [{"id": 41, "name": "Software"}]}}
    wanted = Wanted(Flavor.SUITE, ("Segment Event",), ("Lead",), industry_types=True)
    assert resolve(answers, wanted)[(LookupKind.INDUSTRY_TYPE, "Software")] == 41


def test_the_selectors_are_read_first_then_the_reads_the_service_can_run_without() -> None:
    suite = Wanted(Flavor.SUITE, ("Segment Event",), ("Lead",), industry_types=True)
    assert [(r.path, r.optional) for r in reads(suite)] == [
        ("selector/sales_activity_types", False),
        ("selector/owners", False),
        ("selector/lifecycle_stages", False),
        ("selector/industry_types", True),
        ("settings/contacts/fields", True),
        ("settings/sales_accounts/fields", True),
        ("settings/deals/fields", True),
    ]
    classic = Wanted(Flavor.CLASSIC, ("Chat",), ("Lead",))
    assert [r.path for r in reads(classic)] == [
        "selector/sales_activity_types",
        "selector/owners",
        "settings/contacts/fields",
        "settings/leads/fields",
        "settings/sales_accounts/fields",
        "settings/deals/fields",
    ]
    assert reads(suite)[3].without == "an account's industry is not sent"
    assert "custom traits of contacts go unchecked" in str(reads(suite)[4].without)


WANTED = Wanted(Flavor.SUITE, ("Segment Event",), ("Lead",), industry_types=True)
FIELDS = {"fields": [{"name": "cf_plan", "type": "text"}]}
READ: dict[str, Mapping[str, object]] = {
    **{f"selector/{name}": answer for name, answer in ANSWERS.items()},
    "selector/industry_types": {"industry_types": [{"id": 41, "name": "Software"}]},
    "settings/contacts/fields": FIELDS,
    "settings/sales_accounts/fields": FIELDS,
    "settings/deals/fields": FIELDS,
}


def test_the_account_is_assembled_from_the_answers_by_path() -> None:
    account = assemble(READ, WANTED, calls=9, without={})
    assert account.lookups[(LookupKind.INDUSTRY_TYPE, "Software")] == 41
    assert account.industry_types == ("Software",)
    assert account.catalog is not None
    assert {m.value for m in account.catalog.modules} == {"contacts", "sales_accounts", "deals"}
    assert (account.calls, account.catalog_problems) == (9, ())


def test_reads_refused_for_good_are_done_without_and_named() -> None:
    refused = {
        "selector/industry_types": "GET selector/industry_types: answered 404",
        "settings/deals/fields": "GET settings/deals/fields: answered 404",
    }
    answers = {path: a for path, a in READ.items() if path not in refused}
    account = assemble(answers, WANTED, calls=7, without=refused)
    assert account.industry_types is None
    assert account.catalog is not None
    assert account.catalog.fields(Module.DEALS) is None
    assert account.catalog.fields(Module.CONTACTS) == {"cf_plan": FieldType.TEXT}
    assert account.catalog_problems == tuple(refused.values())
    # Answered since (a refresh after the plan changed): no longer a problem.
    assert assemble(READ, WANTED, calls=7, without=refused).catalog_problems == ()


def test_a_catalog_that_cannot_be_built_is_a_problem_not_a_crash() -> None:
    broken = {**READ, "settings/deals/fields": {"fields": "not a list"}}
    account = assemble(broken, WANTED, calls=7, without={})
    assert account.catalog is None
    assert account.catalog_problems == ("deals: expected a list of fields or {'fields': [...]}",)


def test_nothing_read_of_the_optional_reads_means_no_catalog_and_no_industries() -> None:
    selectors_only = {path: a for path, a in READ.items() if path.startswith("selector/")}
    del selectors_only["selector/industry_types"]
    account = assemble(selectors_only, WANTED, calls=3, without={})
    assert (account.catalog, account.industry_types) == (None, None)


def test_a_name_the_answers_lack_is_a_configuration_error_when_assembling() -> None:
    with pytest.raises(ConfigurationError, match="lifecycle stage 'Customer'"):
        assemble(READ, replace(WANTED, stages=("Customer",)), calls=7, without={})
