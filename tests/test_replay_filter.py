"""``dlq replay``'s pure part: which letters are selected, and what the re-published record
carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consumer.commands.dlq.selection import (
    Filters,
    Listed,
    Selection,
    Summary,
    Verdict,
    dead_lettered_at,
    destination,
    matches,
    parse_moment,
    replay_count,
    replay_headers,
)
from consumer.engine.source import Record
from consumer.errors import RejectedError
from consumer.kafka.deadletters import letter_headers
from translate import Reason

NOON = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ORIGINAL = [("trace", b"\x00t-1\xff"), ("nothing", None), ("trace", b"second")]


def letter(
    reason: str = "rejected", at: datetime | None = NOON, **extra: bytes
) -> list[tuple[str, bytes | None]]:
    headers = [*ORIGINAL, ("fsd-reason", reason.encode()), ("fsd-source-topic", b"events")]
    if at is not None:
        headers.append(("fsd-dead-lettered-at", at.isoformat(timespec="seconds").encode()))
    return headers + [(f"fsd-{name.replace('_', '-')}", value) for name, value in extra.items()]


def test_no_filter_selects_every_letter() -> None:
    assert matches(Filters(), letter(), None)
    assert matches(Filters(), [], None)


def test_the_reason_filter_selects_only_the_named_reasons() -> None:
    wanted = Filters(reasons=frozenset({"rejected", "retries_exhausted"}))
    assert matches(wanted, letter("rejected"), None)
    assert matches(wanted, letter("retries_exhausted"), None)
    assert not matches(wanted, letter("missing_email"), None)
    assert not matches(wanted, [], None)  # no reason header at all


def test_since_is_inclusive_and_until_exclusive() -> None:
    window = Filters(since=NOON, until=NOON + timedelta(hours=1))
    assert matches(window, letter(at=NOON), None)
    assert not matches(window, letter(at=NOON - timedelta(seconds=1)), None)
    assert matches(window, letter(at=NOON + timedelta(minutes=59, seconds=59)), None)
    assert not matches(window, letter(at=NOON + timedelta(hours=1)), None)
    assert matches(Filters(since=NOON), letter(at=NOON + timedelta(days=300)), None)
    assert matches(Filters(until=NOON), letter(at=NOON - timedelta(days=300)), None)


def test_the_window_falls_back_to_the_record_timestamp_and_skips_letters_of_unknown_age() -> None:
    window = Filters(since=NOON)
    an_hour_later_ms = int((NOON + timedelta(hours=1)).timestamp() * 1000)
    assert matches(window, letter(at=None), an_hour_later_ms)
    assert not matches(window, letter(at=None), an_hour_later_ms - 2 * 3600 * 1000)
    assert not matches(window, letter(at=None), None)
    assert not matches(window, letter(at=None), -1)
    garbled = [("fsd-dead-lettered-at", b"yesterday")]
    assert dead_lettered_at(garbled, an_hour_later_ms) == NOON + timedelta(hours=1)


def test_reason_and_window_must_both_hold() -> None:
    both = Filters(reasons=frozenset({"rejected"}), since=NOON)
    assert matches(both, letter("rejected", NOON), None)
    assert not matches(both, letter("invalid_event", NOON), None)
    assert not matches(both, letter("rejected", NOON - timedelta(seconds=1)), None)


def test_times_without_an_offset_are_utc() -> None:
    assert parse_moment("2026-11-29T12:00") == NOON
    assert parse_moment("2026-11-29T13:00+01:00") == NOON
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_moment("yesterday")


def test_impossible_filters_are_refused() -> None:
    with pytest.raises(ValueError, match="--since must be earlier than --until"):
        Filters(since=NOON, until=NOON)
    with pytest.raises(ValueError, match="--limit must be at least 1"):
        Filters(limit=0)


def test_the_limit_caps_selected_letters_in_reading_order_and_counts_the_rest() -> None:
    summary = Summary("events.dlq", dry_run=False)
    selection = Selection(Filters(reasons=frozenset({"rejected"}), limit=2), summary)
    offered = [letter("rejected"), letter("missing_email"), letter("rejected"), letter("rejected")]
    verdicts = [selection.offer(headers, None) for headers in offered]
    assert verdicts == [Verdict.REPLAY, Verdict.FILTERED, Verdict.REPLAY, Verdict.OVER_LIMIT]
    assert (summary.scanned, summary.matched, summary.selected, summary.over_limit) == (4, 3, 2, 1)
    assert summary.by_reason == {"rejected": 2}


def test_a_letter_that_had_to_go_without_its_event_is_reported_not_replayed() -> None:
    summary = Summary("events.dlq", dry_run=False)
    selection = Selection(Filters(), summary)
    dropped = [*letter("invalid_email"), ("fsd-value-dropped", b"1048600")]
    assert selection.offer(dropped, None) is Verdict.WITHOUT_VALUE
    assert selection.offer(letter("rejected"), None) is Verdict.REPLAY
    assert (summary.matched, summary.selected, summary.over_limit) == (2, 1, 0)
    assert summary.to_json()["without_value"] == 1
    assert "not replayed: 1 letters carry no event" in summary.text()


def test_the_replayed_record_keeps_the_original_headers_byte_for_byte_without_ours() -> None:
    headers = replay_headers(letter(status=b"400", error=b"Name taken"))
    assert headers == [*ORIGINAL, ("fsd-replay-count", b"1")]


def test_the_replay_count_counts_on_from_the_letter() -> None:
    assert replay_count(letter()) == 0
    assert replay_count(letter(replay_count=b"2")) == 2
    assert replay_count(letter(replay_count=b"many")) == 0
    assert replay_headers(letter(replay_count=b"2"))[-1] == ("fsd-replay-count", b"3")


def test_a_second_failure_keeps_the_count_so_a_second_replay_counts_on() -> None:
    first = replay_headers(letter())
    source = Record("events", 0, 7, b"k", b"{}", tuple(first))
    error = RejectedError("answered 400", status=400, messages=(), endpoint="POST contacts")
    again = letter_headers(source, Reason.REJECTED, error, attempts=1, at=NOON)
    assert replay_headers(again) == [*ORIGINAL, ("fsd-replay-count", b"2")]


def test_letters_go_back_to_their_source_topic_else_to_the_configured_topic() -> None:
    assert destination(letter(), "segment-events") == "events"
    assert destination([], "segment-events") == "segment-events"


def test_the_summary_says_what_happened_as_text_and_json() -> None:
    summary = Summary("events.dlq", dry_run=False, scanned=5, matched=4, selected=3, replayed=2)
    summary.by_reason.update({"rejected": 2, "missing_email": 1})
    summary.missing_topics["gone"] = 1
    assert not summary.ok
    text = summary.text()
    assert "events.dlq: scanned 5 letters, 4 matched, 3 selected, replayed 2" in text
    assert "held back by --limit: 1" in text
    assert "selected by reason: missing_email=1 rejected=2" in text
    assert "source topic 'gone' does not exist (1 letters)" in text
    data = summary.to_json()
    assert data["by_reason"] == {"missing_email": 1, "rejected": 2}
    assert data["over_limit"] == 1
    dry = Summary("events.dlq", dry_run=True, scanned=1, matched=1, selected=1)
    assert dry.ok
    assert "would replay 1" in dry.text()


def test_a_listed_letter_reads_as_a_line_of_text_or_a_json_object() -> None:
    listed = Listed(
        action="would_replay",
        dlq_partition=1,
        dlq_offset=7,
        reason="rejected",
        dead_lettered_at=NOON,
        topic="events",
        source_partition="2",
        source_offset="4711",
        replay_count=1,
        message_id="m-1",
        key=b"u\xff",
    )
    assert listed.text() == (
        "would_replay  dlq 1/7  rejected  2026-11-29T12:00:00+00:00  -> events (was 2/4711)"
        "  replay #1  messageId=m-1"
    )
    assert listed.to_json()["key"] == "u\ufffd"
    assert listed.to_json()["dead_lettered_at"] == "2026-11-29T12:00:00+00:00"
