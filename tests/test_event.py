"""Reading events: decoding, identifiers, ordering keys, timestamps and type inference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from translate import Reason, TranslationError, decode, infer_type, ordering_key
from translate.event import event_time, identifier, message_id


def test_decode_accepts_a_json_object() -> None:
    assert decode(b'{"type": "track"}') == {"type": "track"}


@pytest.mark.parametrize("raw", [b"", b"{", b"null", b"[]", b'"x"', b"\xff", b"[" * 2000])
def test_decode_turns_anything_else_into_invalid_event(raw: bytes) -> None:
    with pytest.raises(TranslationError) as caught:
        decode(raw)
    assert caught.value.reason is Reason.INVALID_EVENT


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        # A line of input ends with its newline; the event is the line without it.
        (b'{"userId": "u-1",\n', "unexpected end of data after character 17 of 17"),
        ('{"userId": "u-1",', "unexpected end of data after character 17 of 17"),
        (b"not json\n", "invalid literal, expected 'null' at character 1 of 8"),
        (b'{"a": 1,}', "trailing comma is not allowed at character 8 of 9"),
        (b'{"name": "\xc3\xa9",}', "trailing comma is not allowed at character 13 of 14"),
        (b'{"a": "\xff"}', "not valid UTF-8 at byte 8 of 10"),
        (b"", "Input is a zero-length, empty document after character 0 of 0"),
    ],
)
def test_a_parse_error_says_where_within_the_event(raw: bytes | str, detail: str) -> None:
    with pytest.raises(TranslationError) as caught:
        decode(raw)
    assert caught.value.detail == f"not JSON: {detail}"


@pytest.mark.parametrize(
    ("event", "key"),
    [
        ({"userId": "u-1", "anonymousId": "a", "messageId": "m"}, "u-1"),
        ({"userId": " u-1 ", "messageId": "m"}, "u-1"),
        ({"userId": 4711}, "4711"),
        ({"userId": "", "anonymousId": "a-1"}, "a-1"),
        ({"userId": True, "anonymousId": "a-1"}, "a-1"),
        ({"userId": 2**70, "messageId": "m-1"}, "m-1"),
        ({"userId": None, "anonymousId": None, "messageId": "m-1"}, "m-1"),
        ({}, ""),
    ],
)
def test_ordering_key_is_user_then_anonymous_then_message_id(
    event: dict[str, object], key: str
) -> None:
    assert ordering_key(event) == key


@pytest.mark.parametrize("value", [2**70, 1.5, True, ["u"]])
def test_identifier_of_an_unusable_type_is_an_invalid_event(value: object) -> None:
    with pytest.raises(TranslationError) as caught:
        identifier({"userId": value}, "userId")
    assert caught.value.reason is Reason.INVALID_EVENT


def test_message_id_is_metadata_and_never_rejects_the_event() -> None:
    assert message_id({"messageId": " m-1 "}) == "m-1"
    assert message_id({"messageId": 7}) is None
    assert message_id({"messageId": "x" * 201}) is None
    assert message_id({"messageId": "x" * 200}) == "x" * 200


def test_event_time_keeps_the_offset_and_reads_naive_times_as_utc() -> None:
    assert event_time({"timestamp": "2026-11-02T09:15:00.123+05:30"}, None) == (
        "2026-11-02T09:15:00+05:30"
    )
    assert event_time({"timestamp": "2026-11-02T09:15:00"}, None) == "2026-11-02T09:15:00+00:00"


def test_event_time_takes_the_first_parseable_then_the_fallback() -> None:
    event = {"timestamp": "soon", "originalTimestamp": 5, "receivedAt": "2026-11-02T10:00:00Z"}
    assert event_time(event, None) == "2026-11-02T10:00:00+00:00"
    fallback = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=-4)))
    assert event_time({}, fallback) == "2026-01-01T12:00:00-04:00"
    assert event_time({}, datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("event", "inferred"),
    [
        ({"userId": "u", "traits": {}}, "identify"),
        ({"userId": "u", "event": "Signed Up", "properties": {}}, "track"),
        ({"userId": "u", "name": "Home"}, "page"),
        ({"userId": "u", "properties": {"url": "/"}}, "page"),
        ({"userId": "u"}, None),
        ({"type": "group", "traits": {}}, None),
    ],
)
def test_the_dry_run_infers_the_type_of_doc_examples(
    event: dict[str, object], inferred: str | None
) -> None:
    assert infer_type(event) == inferred
