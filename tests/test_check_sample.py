"""`check`'s sample of recent events: read to each partition's end, and an empty sample that may
hide events is said to be unchecked, never "ok"."""

from __future__ import annotations

import orjson

from consumer.commands.check.account import custom_traits
from consumer.commands.check.report import Result, Status
from consumer.commands.check.sample import Reading
from translate import FieldCatalog, Options

OPTIONS = Options(catalog=FieldCatalog.from_json({"contacts": {"fields": []}}))


def identify(n: int, **traits: object) -> bytes:
    return orjson.dumps(
        {"type": "identify", "userId": f"u{n}", "traits": {"email": f"u{n}@example.com", **traits}}
    )


def test_reading_starts_its_share_before_the_guessed_end() -> None:
    assert Reading.starting(first=0, end_guess=500, share=100).next == 400
    assert Reading.starting(first=30, end_guess=50, share=100).next == 30


def test_an_empty_fetch_says_nothing_only_the_end_a_fetch_reports_does() -> None:
    reading = Reading.starting(first=0, end_guess=3, share=10)
    assert (reading.ends_at(None), reading.done) == (None, False)  # no fetch answered yet
    assert (reading.ends_at(3), reading.done) == (None, False)  # reading from 0: read on
    for offset in range(3):
        reading.took(offset, b"v%d" % offset)
    assert (reading.done, reading.latest()) == (True, [b"v0", b"v1", b"v2"])


def test_a_guess_too_low_is_corrected_by_the_end_a_fetch_reports() -> None:
    # The embedded broker's end_offsets() can be far too low: reading would begin too early.
    reading = Reading.starting(first=0, end_guess=5, share=2)
    reading.took(0, b"old")
    assert reading.ends_at(10) == 8  # seek there: the partition's last two records
    assert reading.ends_at(12) is None  # the end is the one first seen: later records wait
    reading.took(8, b"v8")
    reading.took(9, b"v9")
    reading.took(10, b"newer")  # arrived after the end was seen
    assert reading.done
    assert reading.latest() == [b"v8", b"v9"]


def test_a_record_without_a_value_moves_the_reading_on() -> None:
    reading = Reading.starting(first=0, end_guess=1, share=5)
    reading.ends_at(1)
    reading.took(0, None)  # a tombstone
    assert (reading.done, reading.latest()) == (True, [])


def test_an_empty_partition_is_read_at_once() -> None:
    reading = Reading.starting(first=7, end_guess=7, share=5)
    assert reading.ends_at(7) is None
    assert reading.done


def test_an_empty_sample_is_ok_only_when_every_partition_was_read_to_its_end() -> None:
    assert custom_traits([], OPTIONS) == Result(
        "custom traits", Status.OK, "the source topic holds no events to sample"
    )
    assert custom_traits([], OPTIONS, unread=(0, 2)) == Result(
        "custom traits", Status.SKIP, "not checked: partition(s) 0, 2 not read within --timeout"
    )


def test_a_partial_sample_says_what_it_could_not_read() -> None:
    found = custom_traits([identify(1), identify(2, cfShoeSize=9)], OPTIONS, unread=(1,))
    assert found.status is Status.WARN
    assert found.detail.startswith("in the 2 most recent events, 1 custom trait would be ignored:")
    assert found.detail.endswith("; partition(s) 1 not read within --timeout")
    found = custom_traits([identify(1)], OPTIONS, unread=(1,))
    assert found == Result(
        "custom traits",
        Status.OK,
        "none ignored in the 1 most recent events; partition(s) 1 not read within --timeout",
    )
