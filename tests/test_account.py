"""Start-up reads: configured names become ids, or one error names everything missing."""

from __future__ import annotations

import pytest

from consumer.errors import ConfigurationError
from consumer.freshsales.account import Wanted, resolve
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
