"""Event filters: the user decides which events reach the CRM, by type and name."""

from __future__ import annotations

from typing import Any

import pytest

from translate import EventFilter, Options, Outcome, parse_patterns
from translate import translate_event as translate


def admits(include: str, exclude: str, event: dict[str, Any]) -> bool:
    events = EventFilter(parse_patterns(include), parse_patterns(exclude))
    return events.admits(str(event["type"]), event)


TRACK = {"type": "track", "event": "Email Opened"}
ORDER = {"type": "track", "event": "Order Completed"}
ADMIN = {"type": "page", "name": "Admin Console"}
PRICING = {"type": "page", "name": "Pricing"}
SCREEN = {"type": "screen", "name": "Admin Home"}
GROUP = {"type": "group", "traits": {"name": "Test Co"}}
IDENTIFY = {"type": "identify"}


def test_the_done_when_filters_let_through_exactly_what_they_name() -> None:
    include, exclude = "identify,group,screen,page,track:Email *", "page:Admin*"
    assert admits(include, exclude, TRACK)
    assert not admits(include, exclude, ORDER)
    assert not admits(include, exclude, ADMIN)  # exclude wins
    assert admits(include, exclude, PRICING)
    assert admits(include, exclude, SCREEN)  # page:Admin* is not about screens
    assert admits(include, exclude, IDENTIFY)


@pytest.mark.parametrize(
    ("pattern", "event", "matched"),
    [
        ("track:email opened", TRACK, True),
        ("TRACK:EMAIL*", TRACK, True),
        ("track:*Opened", TRACK, True),
        ("track:E*l O*d", TRACK, True),
        ("track:Email", TRACK, False),  # the whole name must match
        ("*:Admin*", ADMIN, True),
        ("*:Admin*", SCREEN, True),
        ("group:test *", GROUP, True),
        ("group:Other", GROUP, False),
        ("page:*", {"type": "page"}, True),  # no name reads as "", which * matches
        ("page:Pricing", {"type": "page", "name": 5}, False),
        ("group:*", {"type": "group", "traits": "not an object"}, True),
        ("track:a.b", {"type": "track", "event": "axb"}, False),  # only * is special
        (" page : Pricing ", PRICING, True),
        ("identify:*", IDENTIFY, True),
        ("*", {"type": "alias"}, True),
    ],
)
def test_patterns_match_type_and_name_ignoring_case(
    pattern: str, event: dict[str, Any], matched: bool
) -> None:
    assert admits(pattern, "", event) is matched
    assert admits("*", pattern, event) is not matched


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tracks", "'tracks': unknown type 'tracks'"),
        (":Order", "':Order': unknown type ''"),
        ("track:", "'track:': no name after ':'"),
        ("identify:Signup", "'identify:Signup': identify events have no name to match"),
        ("page,alias:x,track: ", "'alias:x': unknown type 'alias' .*; 'track:': no name"),
    ],
)
def test_a_pattern_that_cannot_be_read_is_refused_with_what_is_wrong(
    text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_patterns(text)


def test_empty_items_are_skipped() -> None:
    assert [p.text for p in parse_patterns(" track , ,page:Home,")] == ["track", "page:Home"]
    assert parse_patterns("") == ()


def test_whether_a_type_can_pass_at_all() -> None:
    events = EventFilter(parse_patterns("identify,track:Email*"), parse_patterns("page,group:X"))
    assert events.may_admit("identify")
    assert events.may_admit("track")
    assert not events.may_admit("group")  # not included
    everything = EventFilter(exclude=parse_patterns("group,page:*"))
    assert everything.may_admit("track")
    assert not everything.may_admit("group")
    assert not everything.may_admit("page")
    assert EventFilter(exclude=parse_patterns("group:Test*")).may_admit("group")


def test_a_filtered_event_costs_nothing_and_is_never_refused() -> None:
    options = Options(events=EventFilter(parse_patterns("track")))
    # This identify has no userId: unfiltered it would be dead-lettered missing_user_id.
    result = translate({"type": "identify", "messageId": "m-1"}, options)
    assert (result.outcome, result.type, result.message_id) == (Outcome.FILTERED, "identify", "m-1")
    assert result.requests == ()
