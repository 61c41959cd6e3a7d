"""The identity topic's and the waiting topic's records: what they hold, in what bytes, and what
a reader does with a record it cannot read."""

from __future__ import annotations

import orjson
import pytest

from consumer.engine import parcel
from consumer.engine.source import Record
from consumer.identity.entries import (
    AliasEntry,
    Entry,
    ForgottenEntry,
    GoneEntry,
    PersonEntry,
    Unreadable,
    UnsuppressedEntry,
    decode,
    decode_all,
    encode,
    encode_many,
    person_key,
    record_key,
)
from translate import email_key, id_key

ADA, U1, ANON = email_key("ada@example.com"), id_key("u-1"), id_key("a7e0b1f2")


@pytest.mark.parametrize(
    "entry",
    [
        PersonEntry(7, False, 900, ((1, True), (2, False)), (ADA, U1), (ANON,)),
        PersonEntry(8, True, None, None, (), (), snapshot=True),
        GoneEntry(7, False),
        AliasEntry(ANON, U1),
        ForgottenEntry(U1, (U1, ADA, ANON), ((7, False), (3, True))),
        ForgottenEntry(ADA, (ADA,)),
        ForgottenEntry(U1, (U1,), ((7, False),), done=True),
        UnsuppressedEntry(U1),
    ],
    ids=[
        "person",
        "snapshot of a lead",
        "gone",
        "alias",
        "forgotten",
        "nobody found",
        "carried out",
        "undone",
    ],
)
def test_an_entry_reads_back_as_it_was_written(entry: Entry) -> None:
    _, value = encode(entry)
    assert decode(value) == entry


def test_a_person_is_keyed_by_kind_and_id_and_holds_no_identity_in_clear() -> None:
    key, value = encode(PersonEntry(7, False, 900, None, (email_key("ada@example.com"),), ()))
    assert key == b"c7"
    assert record_key(7, lead=True) == b"l7"
    assert b"ada" not in value
    assert orjson.loads(value)["firm"] == [ADA.hex()]
    assert person_key(7, lead=True) != person_key(7, lead=False)


def test_a_deletion_request_holds_hashes_and_freshsales_ids_never_the_identity_in_clear() -> None:
    _, value = encode(ForgottenEntry(ADA, (ADA,), ((7, False),)))
    assert b"ada" not in value
    assert orjson.loads(value)["keys"] == [ADA.hex()]


def test_entries_written_together_are_one_record_read_back_in_order() -> None:
    entries: list[Entry] = [
        PersonEntry(7, False, 900, None, (ADA,), ()),
        AliasEntry(ANON, U1),
        GoneEntry(8, True),
    ]
    key, value = encode_many(entries)
    assert key == b"fsd-batch"
    assert decode_all(value) == (entries, [])
    assert encode_many(entries[:1]) == encode(entries[0])  # one alone: an ordinary record
    with pytest.raises(Unreadable, match="batch record where one entry was expected"):
        decode(value)


def test_a_batch_keeps_its_readable_entries_beside_one_it_cannot_read() -> None:
    person = orjson.loads(encode(PersonEntry(7, False, None, None, (), ()))[1])
    value = orjson.dumps({"f": 1, "t": "batch", "entries": [person, {"f": 1, "t": "merge"}]})
    entries, problems = decode_all(value)
    assert entries == [PersonEntry(7, False, None, None, (), ())]
    assert [str(p) for p in problems] == ["unknown record type 'merge'"]
    _, broken = decode_all(orjson.dumps({"f": 1, "t": "batch", "entries": "x"}))
    assert [str(p) for p in broken] == ["a batch record without its entries"]


def test_a_marker_or_an_empty_record_is_no_entry() -> None:
    assert decode(b"") is None
    assert decode(None) is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "not a record of this format"),
        (orjson.dumps({"f": 2, "t": "person"}), "not a record of this format"),
        (orjson.dumps({"f": 1, "t": "merge"}), "unknown record type"),
        (orjson.dumps({"f": 1, "t": "person", "lead": False}), "without its fields"),
        (orjson.dumps({"f": 1, "t": "person", "id": "7", "lead": False}), "without its fields"),
        (orjson.dumps({"f": 1, "t": "gone", "id": 7, "lead": False, "x": 1}), None),
        (orjson.dumps({"f": 1, "t": "alias", "a": 1, "b": "00"}), "without its fields"),
        (orjson.dumps({"f": 1, "t": "person", "id": 7, "lead": 0, "firm": "ab"}), "fields"),
        (orjson.dumps({"f": 1, "t": "person", "id": 7, "lead": 0, "acc": {}}), "fields"),
        (orjson.dumps({"f": 1, "t": "person", "id": 7, "lead": 0, "acc": [[1]]}), "fields"),
        (orjson.dumps({"f": 1, "t": "forgotten", "r": "zz", "keys": []}), "fields"),
        (orjson.dumps({"f": 1, "t": "forgotten", "r": "00", "keys": [], "people": [[1]]}), "fie"),
        (orjson.dumps({"f": 1, "t": "unsuppressed"}), "without its fields"),
    ],
)
def test_a_record_this_version_cannot_read_is_unreadable_not_a_crash(
    value: bytes, why: str | None
) -> None:
    if why is None:
        assert decode(value) == GoneEntry(7, False)  # an unknown field is no reason to skip
        return
    with pytest.raises(Unreadable, match=why):
        decode(value)


SOURCE = Record(
    "segment-events",
    2,
    41,
    b"a7e0b1f2",
    b'{"type":"page","anonymousId":"a7e0b1f2"}',
    (("traceparent", b"00-abc"), ("fsd-wait-keys", b"forged")),
    1_796_000_000_000,
)


def test_a_kept_event_is_its_source_record_byte_for_byte_plus_what_it_waits_for() -> None:
    key, value, headers = parcel.keep(
        SOURCE, [ANON], since_ms=1_796_000_000_500, kind="page", has_user=False, message_id="m1"
    )
    assert (key, value) == (ANON.hex().encode(), SOURCE.value)
    kept = Record("g.waiting", 0, 9, key, value, headers)
    assert parcel.read(kept) == parcel.Parcel((ANON,), 1_796_000_000_500, "page", False, "m1")
    # The original record, as dead letters and translation need it (a forged header is dropped).
    assert parcel.source_record(kept) == Record(
        "segment-events",
        2,
        41,
        b"a7e0b1f2",
        SOURCE.value,
        (("traceparent", b"00-abc"),),
        1_796_000_000_000,
    )


def test_a_kept_event_without_key_time_or_message_id_reads_back_without_them() -> None:
    bare = Record("segment-events", 0, 3, None, b"{}")
    _, value, headers = parcel.keep(
        bare, [U1, ANON], since_ms=5, kind="track", has_user=True, message_id=None
    )
    kept = Record("g.waiting", 0, 1, U1.hex().encode(), value, headers)
    assert parcel.read(kept) == parcel.Parcel((U1, ANON), 5, "track", True, None)
    source = parcel.source_record(kept)
    assert (source.key, source.timestamp_ms, source.headers) == (None, None, ())


def test_a_done_mark_names_the_offsets_that_went() -> None:
    key, value, headers = parcel.done(ANON, [3, 5, 8])
    assert parcel.read(Record("g.waiting", 0, 9, key, value, headers)) == parcel.Done(
        ANON, (3, 5, 8)
    )


@pytest.mark.parametrize(
    "headers",
    [
        (),
        (("fsd-wait-keys", b""),),
        (("fsd-wait-keys", b"zz"),),
        (("fsd-wait-keys", ANON.hex().encode()), ("fsd-wait-since", b"soon")),
        (("fsd-wait-keys", ANON.hex().encode()), ("fsd-wait-since", None)),
        (("fsd-wait-done", b"1,x"),),
    ],
)
def test_a_waiting_record_this_version_cannot_read_is_skipped(
    headers: tuple[tuple[str, bytes | None], ...],
) -> None:
    assert parcel.read(Record("g.waiting", 0, 1, ANON.hex().encode(), b"{}", headers)) is None
