"""Mapping rules that golden files do not show well: flags, limits and rendering edge cases."""

from __future__ import annotations

import pytest

from translate import Options, Outcome, translate_event
from translate.activity import MAX_NOTES, render_notes
from translate.identify import wants_contact


@pytest.mark.parametrize(
    ("traits", "contact"),
    [
        ({"fsContact": True}, True),
        ({"fsContact": False}, False),
        ({"fs_contact": "True"}, True),
        ({"fsContact": " yes "}, True),
        ({"fsContact": "1"}, True),
        ({"fsContact": 1}, True),
        ({"fsContact": 0}, False),
        ({"fsContact": "no"}, False),
        ({"fsContact": None, "fs_contact": "true"}, True),
        ({"fsContact": "false", "fs_contact": "true"}, False),
        ({"fsContact": ["true"]}, False),
        ({}, False),
    ],
)
def test_the_contact_flag_accepts_the_documented_spellings(
    traits: dict[str, object], contact: bool
) -> None:
    assert wants_contact(traits) is contact


def test_the_control_trait_is_never_sent() -> None:
    event = {"type": "identify", "userId": "u", "traits": {"email": "a@b.co", "fsContact": "true"}}
    (person,) = translate_event(event).requests
    assert "fs_contact" not in person.body["contact"]  # type: ignore[operator]
    assert "fsContact" not in person.body["contact"]  # type: ignore[operator]


@pytest.mark.parametrize("name", [42, "   ", ["Ada", "Lovelace"]])
def test_a_name_that_is_not_words_is_ignored_and_reported(name: object) -> None:
    event = {"type": "identify", "userId": "u", "traits": {"email": "a@b.co", "name": name}}
    result = translate_event(event)
    assert result.ignored == ("name",)
    assert "last_name" not in result.requests[0].body["contact"]  # type: ignore[operator]


def test_a_null_name_is_simply_absent() -> None:
    event = {"type": "identify", "userId": "u", "traits": {"email": "a@b.co", "name": None}}
    result = translate_event(event)
    assert result.ignored == ()
    assert "last_name" not in result.requests[0].body["contact"]  # type: ignore[operator]


def test_notes_are_cut_but_keep_the_message_id() -> None:
    notes, cut = render_notes([("blob", "x" * (MAX_NOTES * 2))], "m-1")
    assert cut
    assert len(notes) <= MAX_NOTES
    assert notes.endswith("…\nmessageId: m-1")


def test_notes_without_message_id_use_the_whole_budget() -> None:
    notes, cut = render_notes([("blob", "x" * (MAX_NOTES * 2))], None)
    assert cut
    assert len(notes) == MAX_NOTES - 1


def test_a_truncated_activity_says_so() -> None:
    event = {
        "type": "track",
        "userId": "u",
        "event": "Big",
        "timestamp": "2026-11-02T00:00:00Z",
        "properties": {"blob": "x" * (MAX_NOTES * 2)},
    }
    result = translate_event(event)
    assert [n.code for n in result.notices] == ["notes_truncated"]


def test_a_value_json_cannot_hold_is_named_not_fatal() -> None:
    notes, _ = render_notes([("big", 2**70), ("ok", 1)], None)
    assert notes == "big: <value not representable as JSON>\nok: 1"


def test_an_unsupported_type_name_is_cut_for_reporting() -> None:
    result = translate_event({"type": "x" * 500})
    assert result.outcome is Outcome.UNSUPPORTED
    assert result.type == "x" * 64


def test_options_match_stage_map_events_ignoring_case_and_spaces() -> None:
    options = Options(stage_map={"  Order Completed ": "Customer"})
    assert dict(options.stage_map) == {"order completed": "Customer"}
    with pytest.raises(TypeError):
        options.stage_map["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize("value", [None, [], "identify", 3])
def test_a_decoded_value_that_is_not_an_object_is_an_invalid_event(value: object) -> None:
    from translate import Reason, TranslationError

    with pytest.raises(TranslationError) as caught:
        translate_event(value)
    assert caught.value.reason is Reason.INVALID_EVENT
