"""Start-up reads: configured names become ids, or one error names everything missing."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import pytest

from consumer.errors import ConfigurationError, RejectedError
from consumer.freshsales.account import Wanted, read_account, resolve
from consumer.freshsales.answers import Answer
from consumer.freshsales.client import FreshsalesClient
from translate import Flavor, LookupKind

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


class FakeAccount:
    """Answers the start-up reads from ANSWERS; the industry types as told."""

    def __init__(self, industries: Exception | dict[str, object]) -> None:
        self.industries = industries
        self.paths: list[str] = []

    async def call(self, method: str, path: str) -> Answer:
        self.paths.append(path)
        if path == "selector/industry_types":
            if isinstance(self.industries, Exception):
                raise self.industries
            return Answer(200, self.industries)
        name = path.split("/")[1]
        return Answer(200, ANSWERS.get(name, {"fields": []}))


async def test_the_industry_types_are_read_only_when_wanted_and_are_best_effort() -> None:
    wanted = Wanted(Flavor.SUITE, ("Segment Event",), ("Lead",), industry_types=True)
    listed = FakeAccount({"industry_types": [{"id": 41, "name": "Software"}]})
    account = await read_account(cast(FreshsalesClient, listed), wanted)
    assert account.industry_types == ("Software",)
    assert account.calls == len(listed.paths) == 7
    refused = FakeAccount(RejectedError("answered 404", status=404))
    account = await read_account(cast(FreshsalesClient, refused), wanted)
    assert account.industry_types is None
    assert account.catalog_problems == ("industry types: answered 404",)
    unwanted = FakeAccount({})
    account = await read_account(
        cast(FreshsalesClient, unwanted), replace(wanted, industry_types=False)
    )
    assert "selector/industry_types" not in unwanted.paths
    assert account.industry_types is None
