"""A digest's lines and the activity made of them (translate/digest.py), values in, values out."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from translate import (
    Flavor,
    Names,
    Options,
    Outcome,
    Request,
    Step,
    Translation,
    translate_event,
)
from translate.digest import MAX_TITLE, SEPARATOR, Line, digest, fits, line_of, title
from translate.digest import TIMES as X
from translate.model import JSON, FromLookup, Inject, LookupKind, frozen

SUITE = Options(stage_map={"Trial Started": "Trial"})
CLASSIC = Options(flavor=Flavor.CLASSIC, stage_map={"Trial Started": "Trial"})


def track(name: str, n: int = 1, **properties: object) -> dict[str, object]:
    return {
        "type": "track",
        "event": name,
        "userId": "u1",
        "messageId": f"m{n}",
        "timestamp": f"2026-11-01T10:00:0{n}Z",
        "context": {"traits": {"email": "ada@example.com"}},
        "properties": properties,
    }


def page(n: int) -> dict[str, object]:
    return {
        "type": "page",
        "name": "Pricing",
        "userId": "u1",
        "messageId": f"p{n}",
        "timestamp": f"2026-11-01T10:00:0{n}Z",
    }


def line(event: dict[str, object], options: Options = SUITE) -> Line:
    made = line_of(translate_event(event, options), 2_000)
    assert made is not None
    return made


def test_a_line_holds_time_title_properties_and_message_id_once() -> None:
    made = line(track("Viewed Pricing", 1, plan="pro"))
    assert made.text.split(SEPARATOR) == [
        "2026-11-01T10:00:01+00:00",
        "Viewed Pricing",
        "plan: pro",
        "messageId: m1",
    ]
    assert (made.kind, made.title, made.message_id, made.stage) == (
        "track",
        "Viewed Pricing",
        "m1",
        None,
    )


def test_a_line_without_properties_or_message_id_has_neither_part() -> None:
    event = track("Signed Up")
    del event["messageId"]
    assert line(event).text == f"2026-11-01T10:00:01+00:00{SEPARATOR}Signed Up"


def test_a_stage_map_event_carries_its_stage() -> None:
    assert line(track("Trial Started")).stage == "Trial"


def test_a_line_longer_than_the_bound_is_no_line() -> None:
    translation = translate_event(track("Viewed Pricing", 1, note="x" * 500), SUITE)
    assert line_of(translation, 2_000) is not None
    assert line_of(translation, 100) is None


def _activity_with(record: dict[str, JSON]) -> Translation:
    request = Request(
        Step.ACTIVITY,
        "POST",
        "sales_activities",
        "sales_activity",
        frozen({"sales_activity": frozen(record)}),
    )
    return Translation(Outcome.DELIVER, "track", "m1", (request,))


@pytest.mark.parametrize(
    ("translation", "why"),
    [
        (
            translate_event(
                {"type": "identify", "userId": "u1", "traits": {"email": "a@b.co"}}, SUITE
            ),
            "not an activity",
        ),
        (Translation(Outcome.DISABLED, "page", "m1"), "not to be delivered"),
        (Translation(Outcome.DELIVER, "track", "m1", ()), "no activity request"),
        (_activity_with({"title": "T", "start_date": "2026-11-01T10:00:00+00:00"}), "no notes"),
        (_activity_with({"title": None, "start_date": "x", "notes": ""}), "no title"),
    ],
)
def test_what_cannot_be_folded_has_no_line(translation: Translation, why: str) -> None:
    assert line_of(translation, 2_000) is None, why


def test_a_lifecycle_request_without_a_stage_lookup_gives_no_stage() -> None:
    activity = translate_event(track("Viewed Pricing"), SUITE).requests
    odd = Request(
        Step.LIFECYCLE,
        "PUT",
        "contacts/{person.id}",
        "contact",
        frozen({}),
        (Inject(("contact", "x"), (FromLookup(LookupKind.DEFAULT_OWNER),)),),
    )
    made = line_of(Translation(Outcome.DELIVER, "track", "m1", (*activity, odd)), 2_000)
    assert made is not None
    assert made.stage is None


def test_a_digest_spans_its_events_and_keeps_every_line_in_order() -> None:
    lines = [
        line(track("Viewed Pricing", 1)),
        line(track("Used Export", 2)),
        line(track("Viewed Pricing", 3)),
    ]
    made = digest(lines, SUITE, person=None, names=Names(user_id="u1"))
    (activity,) = made.requests
    record = activity.body["sales_activity"]
    assert isinstance(record, Mapping)
    assert (made.outcome, made.type, made.names.user_id) == (Outcome.DELIVER, "digest", "u1")
    assert record["title"] == f"3 events: Viewed Pricing {X}2, Used Export"
    assert (record["start_date"], record["end_date"]) == (
        "2026-11-01T10:00:01+00:00",
        "2026-11-01T10:00:03+00:00",
    )
    assert record["notes"] == "\n".join(each.text for each in lines)


def test_a_digest_finds_the_person_first_when_it_is_given_how() -> None:
    translation = translate_event(track("Viewed Pricing", 1), SUITE)
    person = translation.requests[0]
    made = digest([line(track("A", 1)), line(track("B", 2))], SUITE, person=person)
    assert [r.step for r in made.requests] == [Step.PERSON, Step.ACTIVITY]


def test_a_digest_of_page_views_only_is_of_the_page_type() -> None:
    pages = digest([line(page(1)), line(page(2))], SUITE, person=None)
    mixed = digest([line(page(1)), line(track("A", 2))], SUITE, person=None)
    assert _activity_type(pages) == SUITE.page_activity_type
    assert _activity_type(mixed) == SUITE.track_activity_type


def _activity_type(translation: Translation) -> str:
    source = translation.requests[0].inject[0].sources[0]
    assert isinstance(source, FromLookup)
    return source.name


@pytest.mark.parametrize(
    ("options", "steps"),
    [(SUITE, [Step.ACTIVITY, Step.LIFECYCLE]), (CLASSIC, [Step.ACTIVITY])],
)
def test_the_last_stage_among_the_events_is_put_in_suite_only(
    options: Options, steps: list[Step]
) -> None:
    lines = [line(track("Trial Started", 1), options), line(track("A", 2), options)]
    made = digest(lines, options, person=None)
    assert [r.step for r in made.requests] == steps


def test_a_digest_stands_for_two_events_or_more_and_a_history_for_one_or_more() -> None:
    with pytest.raises(ValueError, match="two events or more"):
        digest([line(track("A"))], SUITE, person=None)
    with pytest.raises(ValueError, match="two events or more"):
        digest([], SUITE, person=None, history=True)
    (activity,) = digest([line(track("A"))], SUITE, person=None, history=True).requests
    record = activity.body["sales_activity"]
    assert isinstance(record, Mapping)
    assert record["title"] == "Before sign-up: 1 event: A"


def test_a_visitors_history_is_titled_before_sign_up_within_the_limit() -> None:
    lines = [line(page(1)), line(page(2)), line(track("Trial Started", 3))]
    made = digest(lines, SUITE, person=None, history=True)
    record = made.requests[0].body["sales_activity"]
    assert isinstance(record, Mapping)
    assert made.type == "history"
    assert str(record["title"]).startswith("Before sign-up: 3 events: ")
    many = [line(track(f"Event number {n:03}", 1)) for n in range(40)]
    long = digest(many, SUITE, person=None, history=True).requests[0].body["sales_activity"]
    assert isinstance(long, Mapping)
    assert len(str(long["title"])) == 255


def test_a_long_title_is_cut_to_freshsales_limit() -> None:
    lines = [line(track(f"Event number {n:03}", 1)) for n in range(40)]
    cut = title(lines)
    assert len(cut) == MAX_TITLE
    assert cut.endswith("…")
    assert cut.startswith("40 events: ")


@pytest.mark.parametrize(
    ("lines", "chars", "max_events", "max_chars", "expected"),
    [
        (0, 0, 50, 2_000, True),
        (49, 0, 50, 2_000, True),
        (50, 0, 50, 2_000, False),  # as many events as allowed
        (1, 2_000 - 1 - 30, 50, 2_000, True),  # exactly fills the notes
        (1, 2_000 - 30, 50, 2_000, False),  # one character over
    ],
)
def test_a_line_fits_while_events_and_characters_allow(
    lines: int, chars: int, max_events: int, max_chars: int, expected: bool
) -> None:
    thirty = Line("track", "t", "T", "x" * 30, None, None)
    assert fits(lines, chars, thirty, max_events=max_events, max_chars=max_chars) is expected


def test_a_history_line_too_long_is_cut_to_fit_rather_than_refused() -> None:
    translation = translate_event(track("Viewed Pricing", 1, notes="x" * 3_000), SUITE)
    assert line_of(translation, 200) is None
    cut = line_of(translation, 200, cut=True)
    assert cut is not None
    assert len(cut.text) <= 200
    assert cut.text.endswith(f"{SEPARATOR}messageId: m1")
    assert "\u2026" in cut.text
    bare = translate_event({**track("A", 1), "messageId": "x" * 150}, SUITE)
    assert line_of(bare, 150, cut=True) is None  # no properties to cut: it cannot fit


def test_a_history_line_with_no_room_left_for_its_properties_is_refused() -> None:
    translation = translate_event(track("Viewed Pricing", 1, plan="pro"), SUITE)
    whole = line_of(translation, 2_000)
    assert whole is not None
    bare = len(whole.text) - len("plan: pro")  # time, title, messageId and their separators
    assert line_of(translation, bare + 1, cut=True) is None
    fitting = line_of(translation, bare + 2, cut=True)
    assert fitting is not None
    assert "\u2026" in fitting.text
