"""Folding identifies: a user's identifies waiting behind each other become one upsert, in order."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
import pytest

from consumer.engine import folding
from consumer.engine.dispatch import KeyedDispatcher
from consumer.engine.folding import Folding, FoldRules, finder, merged_translation, person
from consumer.engine.intake import work_from
from consumer.engine.offsets import PartitionOffsets
from consumer.engine.source import Record
from consumer.engine.work import Work
from translate import (
    EventFilter,
    Options,
    Reason,
    TranslationError,
    merge_identifies,
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


# -- folding while they wait -------------------------------------------------------------------


def work(tracker: PartitionOffsets, offset: int, event: Mapping[str, object]) -> Work:
    tracker.fetched(offset)
    raw = orjson.dumps(event)
    return work_from(Record("t", 0, offset, b"u1", raw, ()), tracker, OPTIONS, line_chars=1000)


DEFAULT_RULES = FoldRules()


async def run_with_folding(works: list[Work], rules: FoldRules = DEFAULT_RULES) -> list[Work]:
    """Submit everything before the first is picked up, as a fetched batch is; what was handled."""
    handled: list[Work] = []

    async def handle(w: Work) -> None:
        handled.append(w)

    dispatcher: KeyedDispatcher[Work] = KeyedDispatcher(handle, folder=Folding(rules))
    for w in works:
        dispatcher.submit(w.key, w)
    await dispatcher.wait_idle()
    return handled


def offsets(w: Work) -> list[int]:
    return [m.offset for m in w.members] or [w.record.offset]


TRACK = {
    "type": "track",
    "userId": "u1",
    "event": "Signed Up",
    "messageId": "t1",
    "timestamp": "2026-11-04T10:00:00Z",
}


async def test_identifies_waiting_behind_each_other_merge_and_anything_else_ends_the_run() -> None:
    tracker = PartitionOffsets(0)
    works = [
        work(tracker, 0, identify(0, firstName="A")),
        work(tracker, 1, identify(1, firstName="B")),
        work(tracker, 2, identify(2, lastName="C")),
        work(tracker, 3, TRACK),
        work(tracker, 4, identify(4, firstName="D")),
    ]
    handled = await run_with_folding(works)
    assert [offsets(w) for w in handled] == [[0, 1, 2], [3], [4]]
    first = handled[0]
    assert first.original is not None
    assert first.original.message_id == "m0"
    merged = merged_translation(first, OPTIONS)
    assert merged is not None
    assert merged.message_id == "m2"
    person_step = next(r for r in merged.requests if r.step.value == "person")
    contact = person_step.body["contact"]
    assert isinstance(contact, Mapping)
    assert (contact["first_name"], contact["last_name"]) == ("B", "C")


async def test_identifies_of_another_record_or_invalid_ones_are_not_merged() -> None:
    tracker = PartitionOffsets(0)
    other_email = identify(1)
    other_email["traits"] = {"email": "new@example.com"}
    works = [work(tracker, 0, identify(0)), work(tracker, 1, other_email)]
    tracker.fetched(2)  # an undecodable record: no translation, never merged
    works.append(Work(Record("t", 0, 2, None, b"{", ()), tracker, "u1", None, None))
    works.append(work(tracker, 3, identify(3)))
    handled = await run_with_folding(works)
    assert all(not w.members for w in handled)


async def test_identifies_of_another_partition_are_not_merged() -> None:
    first, second = PartitionOffsets(0), PartitionOffsets(0)
    handled = await run_with_folding([work(first, 0, identify(0)), work(second, 0, identify(1))])
    assert all(not w.members for w in handled)


async def test_identifies_with_a_company_merge_by_the_person_they_write() -> None:
    tracker = PartitionOffsets(0)
    works = [
        work(tracker, n, identify(n, company={"name": "Acme"}, title=f"T{n}")) for n in range(3)
    ]
    handled = await run_with_folding(works)
    assert [len(w.members) for w in handled] == [3]


async def test_merging_identifies_can_be_switched_off() -> None:
    tracker = PartitionOffsets(0)
    handled = await run_with_folding(
        [work(tracker, n, identify(n)) for n in range(3)], FoldRules(identifies=False)
    )
    assert [offsets(w) for w in handled] == [[0], [1], [2]]


def test_a_merge_that_is_filtered_out_or_does_not_translate_goes_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracker = PartitionOffsets(0)
    first, second = work(tracker, 0, identify(0)), work(tracker, 1, identify(1))
    assert Folding(FoldRules()).join(first, second)
    nothing = Options(events=EventFilter((), ()))  # the filters changed since they were read
    assert merged_translation(first, nothing) is None

    def refuse(*args: object, **kwargs: object) -> None:
        raise TranslationError(Reason.INVALID_EVENT, "merged traits do not translate")

    monkeypatch.setattr(folding, "translate_event", refuse)
    assert merged_translation(first, OPTIONS) is None


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
    assert finder(page.translation) is None
    assert finder(None) is None  # an event held folded: no translation kept
