"""One event through the deliverer, with a scripted Freshsales: what is sent, skipped or kept."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson

from consumer.backoff import Backoff
from consumer.engine.breaker import Breaker
from consumer.engine.chain import Chain, advance
from consumer.engine.delivery import Deliverer
from consumer.engine.folding import Folding, FoldRules
from consumer.engine.memory.seen import SeenMessages
from consumer.engine.memory.unchanged import UpsertMemory
from consumer.engine.offsets import PartitionOffsets
from consumer.engine.outlets import Memory
from consumer.engine.people import Identities
from consumer.engine.policy import RetryPolicy
from consumer.engine.source import Partition, Record
from consumer.engine.work import Work
from consumer.errors import FreshsalesError, RateLimited, RejectedError
from consumer.freshsales.answers import Answer
from consumer.identity.book import Book
from consumer.kafka.deadletters import Headers
from tests.fakes.identities import FakeIdentityLog, FakeWaitingLog
from tests.fakes.outlets import FakeLedger, FakeLetters, FakeStanding
from tests.fakes.source import FakeSource
from translate import EventFilter, LookupKind, Options, decode, parse_patterns, translate_event

LOOKUPS = {
    (LookupKind.LIFECYCLE_STAGE, "Lead"): 501,
    (LookupKind.LIFECYCLE_STAGE, "Customer"): 503,
    (LookupKind.SALES_ACTIVITY_TYPE, "Segment Event"): 701,
    (LookupKind.DEFAULT_OWNER, ""): 900,
}
OPTIONS = Options(stage_map={"Order Completed": "Customer"})


class Scripted:
    """Answers with a record per call; raises the queued errors first, one per call."""

    def __init__(self, *errors: FreshsalesError, at: dict[int, FreshsalesError] | None = None):
        self.errors = list(errors)
        self.at = at or {}  # call number (1 = first) → the error it gets
        self.sent: list[tuple[str, str, Any]] = []

    async def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None
    ) -> Answer:
        self.sent.append((method, path, body))
        if len(self.sent) in self.at:
            raise self.at.pop(len(self.sent))
        if self.errors:
            raise self.errors.pop(0)
        envelope = next(k for k in (body or {}) if k != "unique_identifier")
        record: dict[str, Any] = {"id": 7, "owner_id": 900}
        if path.endswith("?include=sales_accounts"):
            # The person's accounts as written, else none yet.
            written: Any = (body or {})[envelope]
            record["sales_accounts"] = written.get("sales_accounts", [])
        return Answer(200, {envelope: record})


RECORDS: dict[int, Record] = {}
"""Every record made by ``work``, by offset: what the deliverer reads again."""


async def reread(partition: Partition, offset: int) -> Record | None:
    return RECORDS.get(offset)


def work(tracker: PartitionOffsets, offset: int, event: dict[str, Any]) -> Work:
    tracker.fetched(offset)
    decoded = decode(orjson.dumps(event))
    translation = translate_event(decoded, OPTIONS)
    kept = decoded if translation.type == "identify" else None
    record = RECORDS[offset] = Record("t", 0, offset, None, orjson.dumps(event), ())
    return Work(record, tracker, "u1", translation, None, event=kept)


def identify(**traits: object) -> dict[str, Any]:
    return {"type": "identify", "userId": "u1", "traits": {"email": "a@x.org", **traits}}


def track(message_id: str, name: str = "Signed Up") -> dict[str, Any]:
    return {
        "type": "track",
        "userId": "u1",
        "event": name,
        "messageId": message_id,
        "timestamp": "2026-11-30T10:00:00Z",
    }


class Harness:
    def __init__(self, caller: Scripted, *, ledger_fails: bool = False) -> None:
        self.dead = FakeLetters()
        self.recorded = FakeLedger(fails=ledger_fails)
        self.breaker = Breaker()
        self.book = Book()
        self.identities = FakeIdentityLog()
        self.waiting = FakeWaitingLog(FakeSource(waiting_topic="t.waiting"))
        self.deliverer = Deliverer(
            caller,
            FakeStanding(LOOKUPS),
            Memory(UpsertMemory(3600), SeenMessages(3600)),
            self.dead,
            self.recorded.record,
            identities=Identities(self.book, self.identities),
            waiting=self.waiting,
            policy=RetryPolicy(backoff=Backoff(0.001, 0.001, jitter=True)),
            breaker=self.breaker,
            progress=asyncio.Event(),
            options=lambda: OPTIONS,
            reread=reread,
        )

    @property
    def ledger(self) -> list[str]:
        return self.recorded.recorded

    @property
    def letters(self) -> list[tuple[str, bytes | None, Headers]]:
        return [("t.dlq", letter.record.value, letter.headers) for letter in self.dead.letters]


async def test_a_delivered_track_is_recorded_and_its_repeat_is_not_sent() -> None:
    caller = Scripted()
    harness = Harness(caller)
    tracker = PartitionOffsets(0)
    await harness.deliverer.handle(work(tracker, 0, identify()))
    await harness.deliverer.handle(work(tracker, 1, track("m1")))
    await harness.deliverer.handle(work(tracker, 2, track("m1")))
    assert [p for _, p, _ in caller.sent] == [
        "contacts/upsert?include=sales_accounts",
        "sales_activities",
    ]
    assert harness.ledger == ["m1"]
    stats = harness.deliverer.stats
    assert (stats.outcomes["delivered"], stats.outcomes["deduplicated"]) == (2, 1)
    assert stats.by_type["track", "deduplicated"] == 1
    assert tracker.position == 3  # the duplicate's offset finishes too


async def test_a_failed_ledger_write_still_finishes_the_delivered_event() -> None:
    harness = Harness(Scripted(), ledger_fails=True)
    tracker = PartitionOffsets(0)
    await harness.deliverer.handle(work(tracker, 0, identify()))
    await harness.deliverer.handle(work(tracker, 1, track("m1")))
    assert harness.deliverer.stats.outcomes["delivered"] == 2
    assert tracker.position == 2


async def test_an_identical_identify_costs_nothing_until_a_stage_change_touches_the_person() -> (
    None
):
    caller = Scripted()
    harness = Harness(caller)
    tracker = PartitionOffsets(0)
    for n, event in enumerate([identify(), identify(), track("m1", "Order Completed"), identify()]):
        await harness.deliverer.handle(work(tracker, n, event))
    assert [(m, p) for m, p, _ in caller.sent] == [
        ("POST", "contacts/upsert?include=sales_accounts"),
        ("POST", "sales_activities"),
        ("PUT", "contacts/7"),  # the stage map moved the person…
        ("POST", "contacts/upsert?include=sales_accounts"),  # …so the same identify goes again
    ]
    assert harness.deliverer.stats.unchanged == 1


async def test_a_rejected_merged_identify_is_delivered_apart_so_only_the_culprit_fails() -> None:
    caller = Scripted(RejectedError("answered 400", status=400))
    harness = Harness(caller)
    tracker = PartitionOffsets(0)
    first, second = work(tracker, 0, identify(title="A")), work(tracker, 1, identify(title="B"))
    assert Folding(FoldRules()).join(first, second)  # waiting together: one upsert
    await harness.deliverer.handle(first)
    titles = [body["contact"].get("job_title") for _, _, body in caller.sent]
    assert titles == ["B", "A", "B"]  # merged (refused), then each on its own
    assert harness.letters == []
    assert harness.deliverer.stats.outcomes["delivered"] == 2
    assert tracker.position == 2


async def test_an_activity_refused_for_a_remembered_person_is_tried_once_more_from_scratch() -> (
    None
):
    # The person was deleted in Freshsales after we cached their id.
    caller = Scripted(at={2: RejectedError("answered 400", status=400)})
    harness = Harness(caller)
    tracker = PartitionOffsets(0)
    await harness.deliverer.handle(work(tracker, 0, identify()))
    with_email = {**track("m1"), "context": {"traits": {"email": "a@x.org"}}}
    await harness.deliverer.handle(work(tracker, 1, with_email))
    assert [p.partition("?")[0] for _, p, _ in caller.sent] == [
        "contacts/upsert",
        "sales_activities",  # refused: the cached id is gone
        "contacts/upsert",  # who the person is now
        "sales_activities",
    ]
    assert harness.letters == []
    assert harness.deliverer.stats.outcomes["delivered"] == 2


async def test_a_refused_activity_without_an_email_keeps_the_remembered_person() -> None:
    caller = Scripted(at={2: RejectedError("answered 400", status=400)})
    harness = Harness(caller)
    tracker = PartitionOffsets(0)
    for n, event in enumerate([identify(), track("m1"), track("m2")]):
        await harness.deliverer.handle(work(tracker, n, event))
    # Nothing in the event could find the person again: dead-lettered, the memory kept.
    assert [p.partition("?")[0] for _, p, _ in caller.sent] == [
        "contacts/upsert",
        *["sales_activities"] * 2,
    ]
    assert harness.deliverer.stats.dead_letters == {"rejected": 1}
    assert harness.deliverer.stats.outcomes["delivered"] == 2


async def test_a_refusal_with_fresh_answers_is_dead_lettered_at_once() -> None:
    caller = Scripted(at={1: RejectedError("answered 400", status=400)})
    harness = Harness(caller)
    await harness.deliverer.handle(work(PartitionOffsets(0), 0, identify()))
    assert len(caller.sent) == 1
    assert [topic for topic, _, _ in harness.letters] == ["t.dlq"]


async def test_429s_do_not_open_the_circuit() -> None:
    errors = [RateLimited("rate limited (429)", retry_after=0.0) for _ in range(12)]
    harness = Harness(Scripted(*errors))
    await harness.deliverer.handle(work(PartitionOffsets(0), 0, identify()))
    assert harness.deliverer.stats.retries == 12
    assert not harness.breaker.is_open()


async def test_advance_skips_an_unchanged_account_and_a_link_already_in_place() -> None:
    caller = Scripted()
    upserts = UpsertMemory(3600)
    event = translate_event(identify(company={"name": "Acme"}), OPTIONS)
    for _ in range(2):
        await advance(Chain(event), caller, LOOKUPS, upserts)
    paths = [p for _, p, _ in caller.sent]
    assert paths == [
        "sales_accounts/upsert",
        "contacts/upsert?include=sales_accounts",
        "contacts/7?include=sales_accounts",  # the link; the second time it is in place
    ]


async def test_a_filtered_event_is_skipped_at_no_cost_and_counted_as_filtered() -> None:
    caller = Scripted()
    harness = Harness(caller)
    tracker = PartitionOffsets(0)
    events = EventFilter(exclude=parse_patterns("track:Signed*"))
    decoded = decode(orjson.dumps(track("m1")))
    filtered = translate_event(decoded, Options(events=events))
    source = Record("t", 0, 0, None, orjson.dumps(decoded), ())
    tracker.fetched(0)
    await harness.deliverer.handle(Work(source, tracker, "u1", filtered, None))
    stats = harness.deliverer.stats
    assert caller.sent == []
    assert harness.letters == []
    assert stats.outcomes["skipped"] == 1  # the log line: skipped, reason filtered
    assert stats.by_type == {("track", "filtered"): 1}
    assert tracker.position == 1


async def test_a_refused_link_of_a_person_known_only_by_id_is_dead_lettered_not_retried() -> None:
    # A group without an email: nothing in the event could find the person again.
    caller = Scripted(at={3: RejectedError("answered 400", status=400)})
    harness = Harness(caller)
    tracker = PartitionOffsets(0)
    group = {"type": "group", "userId": "u1", "traits": {"name": "Globex"}}
    for n, event in enumerate([identify(), group]):
        await harness.deliverer.handle(work(tracker, n, event))
    assert [p.partition("?")[0] for _, p, _ in caller.sent] == [
        "contacts/upsert",
        "sales_accounts/upsert",
        "contacts/7",  # the link, refused
    ]
    assert harness.deliverer.stats.dead_letters == {"rejected": 1}
