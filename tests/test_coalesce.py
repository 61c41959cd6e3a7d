"""Folding identifies: a user's identifies queued behind each other become one upsert, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import orjson
import pytest

from consumer.engine import folding
from consumer.engine.dispatch import KeyedDispatcher
from consumer.engine.folding import IdentifyFolding, person
from consumer.engine.offsets import PartitionOffsets
from consumer.engine.source import Record
from consumer.engine.work import Work
from translate import (
    EventFilter,
    Options,
    Reason,
    TranslationError,
    decode,
    merge_identifies,
    translate_event,
)

OPTIONS = Options()


def identify(n: int, **traits: object) -> dict[str, object]:
    return {
        "type": "identify",
        "userId": "u1",
        "messageId": f"m{n}",
        "timestamp": f"2026-11-0{n + 1}T10:00:00Z",
        "traits": {"email": "ada@example.com", **traits},
    }


def test_later_traits_win_and_company_and_deal_merge_key_by_key() -> None:
    merged = merge_identifies(
        [
            identify(0, firstName="Ada", title="CTO", company={"name": "Acme", "plan": "free"}),
            identify(1, title="CEO", company={"plan": "pro"}, deal={"name": "D1"}),
            identify(2, deal={"deal_value": 10}),
        ]
    )
    assert merged["traits"] == {
        "email": "ada@example.com",
        "firstName": "Ada",
        "title": "CEO",
        "company": {"name": "Acme", "plan": "pro"},
        "deal": {"name": "D1", "deal_value": 10},
    }
    # Everything but the traits is the last event's.
    assert (merged["messageId"], merged["timestamp"]) == ("m2", "2026-11-03T10:00:00Z")


def test_a_company_replaced_by_a_non_object_is_replaced() -> None:
    merged = merge_identifies([identify(0, company={"name": "Acme"}), identify(1, company=None)])
    assert merged["traits"]["company"] is None  # type: ignore[index]


def test_context_traits_merge_too_and_missing_traits_read_as_none() -> None:
    first = {**identify(0), "context": {"traits": {"email": "a@x.org", "plan": "free"}}}
    second = {"type": "identify", "userId": "u1", "context": {"ip": "1.2.3.4", "traits": {}}}
    third = {"type": "identify", "userId": "u1", "traits": "oops", "context": {"ip": "5.6.7.8"}}
    merged = merge_identifies([first, second, third])
    assert merged["context"] == {"ip": "5.6.7.8", "traits": {"email": "a@x.org", "plan": "free"}}
    assert merged["traits"] == {"email": "ada@example.com"}
    assert "context" not in merge_identifies([identify(0)])
    assert merge_identifies([{**identify(0), "context": {"ip": "1"}}])["context"] == {"ip": "1"}


def test_nothing_to_merge_is_a_programming_error() -> None:
    try:
        merge_identifies([])
    except ValueError:
        return
    raise AssertionError("expected ValueError")


# -- in the dispatcher --------------------------------------------------------------------------


def work(tracker: PartitionOffsets, offset: int, event: Mapping[str, object]) -> Work:
    tracker.fetched(offset)
    raw = orjson.dumps(event)
    decoded = decode(raw)
    translation = translate_event(decoded, OPTIONS)
    keep = decoded if translation.type == "identify" else None
    record = Record("t", 0, offset, None, raw, ())
    return Work(record, tracker, "u1", translation, None, event=keep)


async def run_with_coalescing(works: list[Work]) -> list[Work]:
    handled: list[Work] = []
    gate = asyncio.Event()

    async def handle(w: Work) -> None:
        await gate.wait()  # the first stays in progress until everything is queued
        handled.append(w)

    dispatcher: KeyedDispatcher[Work] = KeyedDispatcher(handle, IdentifyFolding(lambda: OPTIONS))
    for w in works:
        dispatcher.submit(w.key, w)
    gate.set()
    await dispatcher.wait_idle()
    return handled


async def test_identifies_behind_the_one_in_progress_merge_into_the_next_one_handled() -> None:
    tracker = PartitionOffsets(0)
    track = {
        "type": "track",
        "userId": "u1",
        "event": "Signed Up",
        "messageId": "t1",
        "timestamp": "2026-11-04T10:00:00Z",
    }
    works = [
        work(tracker, 0, identify(0, firstName="A")),
        work(tracker, 1, identify(1, firstName="B")),
        work(tracker, 2, identify(2, lastName="C")),
        work(tracker, 3, track),
        work(tracker, 4, identify(4, firstName="D")),
    ]
    handled = await run_with_coalescing(works)
    # The first was about to be handled when the others were queued: it took over those behind.
    assert [w.record.offset for w in handled] == [0, 3, 4]
    assert [w.record.offset for w in handled[0].absorbed] == [1, 2]
    merged = handled[0].translation
    assert merged is not None
    assert merged.message_id == "m2"
    person = next(r for r in merged.requests if r.step.value == "person")
    contact = person.body["contact"]
    assert isinstance(contact, Mapping)
    assert (contact["first_name"], contact["last_name"]) == ("B", "C")
    assert handled[0].original is works[0].translation
    assert handled[1].absorbed == []  # a track ends the run; order is kept


async def test_identifies_of_another_record_or_invalid_ones_are_not_merged() -> None:
    tracker = PartitionOffsets(0)
    other_email = identify(1)
    other_email["traits"] = {"email": "new@example.com"}
    works = [work(tracker, 0, identify(0)), work(tracker, 1, other_email)]
    tracker.fetched(2)  # an undecodable record: no translation, never merged
    works.append(Work(Record("t", 0, 2, None, b"{", ()), tracker, "u1", None, None))
    works.append(work(tracker, 3, identify(3)))
    handled = await run_with_coalescing(works)
    assert all(not w.absorbed for w in handled)


async def test_identifies_of_another_partition_are_not_merged() -> None:
    first, second = PartitionOffsets(0), PartitionOffsets(0)
    handled = await run_with_coalescing([work(first, 0, identify(0)), work(second, 0, identify(1))])
    assert all(not w.absorbed for w in handled)


async def test_identifies_with_a_company_merge_by_the_person_they_write() -> None:
    tracker = PartitionOffsets(0)
    works = [
        work(tracker, n, identify(n, company={"name": "Acme"}, title=f"T{n}")) for n in range(3)
    ]
    handled = await run_with_coalescing(works)
    assert [len(w.absorbed) for w in handled] == [2]


def test_an_identify_whose_merge_is_filtered_out_or_untranslatable_goes_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracker = PartitionOffsets(0)
    first, second = work(tracker, 0, identify(0)), work(tracker, 1, identify(1))
    nothing = Options(events=EventFilter((), ()))  # the filters changed since they were read
    assert IdentifyFolding(lambda: nothing)(first, [second]) == (first, 0)

    def refuse(*args: object, **kwargs: object) -> None:
        raise TranslationError(Reason.INVALID_EVENT, "merged traits do not translate")

    monkeypatch.setattr(folding, "translate_event", refuse)
    assert IdentifyFolding(lambda: OPTIONS)(first, [second]) == (first, 0)


def test_which_record_an_event_writes_is_none_without_a_person() -> None:
    tracker = PartitionOffsets(0)
    page_view = {
        "type": "page",
        "userId": "u1",
        "name": "Home",
        "timestamp": "2026-11-30T10:00:00Z",
    }
    page = work(tracker, 0, page_view)
    assert person(page) is None
    assert IdentifyFolding(lambda: OPTIONS)(page, []) == (page, 0)
