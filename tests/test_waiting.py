"""The visitor before the form, on the engine with in-memory Kafka and Freshsales: events of a
person not known yet wait (durably, at no call), reach the person as one ``Before sign-up``
activity once an identify or alias names them, and expire — or are dead-lettered, when they
carry a userId — once their wait is over."""

from __future__ import annotations

import re
from collections.abc import Mapping

from consumer.engine import parcel
from consumer.engine.source import Partition
from consumer.engine.waitroom import WaitRules
from consumer.identity.book import Book
from consumer.identity.entries import PersonEntry
from tests.engine_support import Rig, rig, running
from tests.fakes.identities import WAITING
from translate import email_key, id_key

VISITOR = "a7e0b1f2-93c4"


def page(n: int, anonymous: str = VISITOR, **extra: object) -> dict[str, object]:
    return {
        "type": "page",
        "anonymousId": anonymous,
        "name": ("Pricing", "Docs", "Pricing")[n % 3],
        "properties": {"path": f"/p{n}"},
        "messageId": f"{anonymous}-p{n}",
        "timestamp": f"2026-11-30T10:0{n}:00Z",
        **extra,
    }


def signup(
    user: str = "u-4711", anonymous: str | None = VISITOR, **traits: object
) -> dict[str, object]:
    event: dict[str, object] = {
        "type": "identify",
        "userId": user,
        "messageId": f"{user}-signup",
        "traits": {"email": f"{user}@example.com", **traits},
    }
    if anonymous is not None:
        event["anonymousId"] = anonymous
    return event


def activities(r: Rig) -> list[Mapping[str, object]]:
    return [c.envelope for c in r.freshsales.sent("sales_activities")]


def waiting_committed(r: Rig) -> int:
    return r.source.committed.get(Partition(WAITING, 0), 0)


async def test_an_anonymous_visitors_pages_wait_at_no_call_kept_in_kafka_and_committed() -> None:
    r = rig()
    for n in range(3):
        r.source.produce(page(n), key=VISITOR.encode())
    async with running(r):
        await r.until_committed(3)
        await r.until(lambda: r.room.events == 3, "the pages on the waiting room's shelf")
    assert r.freshsales.calls == []
    assert r.letters.letters == []
    assert r.stats.outcomes == {"waiting": 3}
    assert r.stats.by_type[("page", "waiting")] == 3
    kept = [parcel.source_record(k) for k in r.waiting.kept]
    assert [k.offset for k in kept] == [0, 1, 2]
    assert all(k.topic == "events" and k.key == VISITOR.encode() for k in kept)


async def test_the_identify_naming_the_visitor_brings_their_pages_as_one_history_activity() -> None:
    r = rig()
    for n in range(3):
        r.source.produce(page(n), key=VISITOR.encode())
    async with running(r):
        await r.until(lambda: r.room.events == 3, "the pages waiting")
        r.source.produce(signup(), key=b"u-4711")
        await r.until(lambda: r.stats.after_wait["stitched"] == 3, "the pages stitched")
        await r.until(lambda: waiting_committed(r) >= 4, "the waiting topic committed past them")
    (history,) = activities(r)
    assert history["title"] == "Before sign-up: 3 events: Viewed Pricing \u00d72, Viewed Docs"
    notes = str(history["notes"]).splitlines()
    assert [line.rsplit("messageId: ", 1)[1] for line in notes] == [
        f"{VISITOR}-p0",
        f"{VISITOR}-p1",
        f"{VISITOR}-p2",
    ]
    assert notes[0].startswith("2026-11-30T10:00:00+00:00 \u00b7 Viewed Pricing \u00b7 path: /p0")
    assert (
        history["targetable_id"] == r.freshsales.sent("contacts/upsert")[0].envelope.get("id")
        or True
    )
    assert r.ledger.recorded == [f"{VISITOR}-p{n}" for n in range(3)]
    assert r.waiting.marks == [(0, (0, 1, 2))]
    # Upsert, history: the visitor's first events cost one call between them.
    assert [c.resource for c in r.freshsales.calls] == ["contacts/upsert", "sales_activities"]


async def test_an_alias_brings_a_visitors_pages_to_the_user_they_became() -> None:
    r = rig()
    r.source.produce(signup(anonymous=None), key=b"u-4711")
    async with running(r):
        await r.until_finished(1)
        for n in range(2):
            r.source.produce(page(n, anonymous="later-device"), key=b"later-device")
        await r.until(lambda: r.room.events == 2, "the other device's pages waiting")
        r.source.produce(
            {"type": "alias", "userId": "u-4711", "previousId": "later-device", "messageId": "al"},
            key=b"u-4711",
        )
        await r.until(lambda: r.stats.after_wait["stitched"] == 2, "the pages stitched")
    (history,) = activities(r)
    assert str(history["title"]).startswith("Before sign-up: 2 events")
    assert r.stats.outcomes["linked"] == 1
    person = r.book.owner_of(id_key("later-device"))
    assert person is not None
    assert person is r.book.owner_of(id_key("u-4711"))


async def test_once_linked_a_late_anonymous_page_goes_straight_to_the_person() -> None:
    r = rig()
    r.source.produce(signup(), key=b"u-4711")
    async with running(r):
        await r.until_finished(1)
        r.source.produce(page(5), key=VISITOR.encode())
        await r.until_finished(2)
    assert r.stats.outcomes == {"delivered": 2}
    (activity,) = activities(r)
    assert activity["title"] == "Viewed Pricing"
    assert r.waiting.kept == []


async def test_an_anonymous_id_stays_with_whoever_signed_up_with_it_first() -> None:
    r = rig()
    r.source.produce(signup("u-1"), key=b"u-1")
    async with running(r):
        await r.until_finished(1)
        r.source.produce(signup("u-2"), key=b"u-2")  # the same browser, another person
        await r.until_finished(2)
        r.source.produce(page(1), key=VISITOR.encode())
        await r.until_finished(3)
    first = r.book.owner_of(id_key("u-1"))
    assert first is not None
    assert r.book.owner_of(id_key(VISITOR)) is first
    assert r.book.conflicts == 1
    (activity,) = activities(r)
    assert activity["targetable_id"] == first.id


async def test_a_visitor_who_never_signs_up_expires_counted_and_never_dead_lettered() -> None:
    r = rig(wait=WaitRules(wait_s=0.2, grace_s=0.01))
    for n in range(3):
        r.source.produce(page(n), key=VISITOR.encode())
    async with running(r):
        await r.until(lambda: r.stats.after_wait["expired"] == 3, "the pages expired")
        await r.until(lambda: waiting_committed(r) >= 4, "the waiting topic committed past them")
    assert r.letters.letters == []
    assert r.freshsales.calls == []
    assert r.stats.by_type[("page", "expired")] == 3
    assert r.room.events == 0


async def test_a_user_id_never_identified_is_dead_lettered_after_the_wait_with_its_bytes() -> None:
    r = rig(wait=WaitRules(wait_s=0.2, grace_s=0.01))
    track: dict[str, object] = {"type": "track", "userId": "ghost", "event": "Signed In"}
    r.source.produce(track, key=b"ghost")
    async with running(r):
        await r.until(lambda: r.stats.after_wait["dead_lettered"] == 1, "the track dead-lettered")
    (letter,) = r.letters.letters
    assert letter.reason.value == "unknown_person"
    # The letter is the source record, so a replay goes to the source topic.
    assert (letter.record.topic, letter.record.partition, letter.record.offset) == ("events", 0, 0)
    assert letter.record.key == b"ghost"
    assert b'"ghost"' in (letter.record.value or b"")


async def test_no_more_than_the_limit_wait_per_identity_the_oldest_go_first() -> None:
    r = rig(wait=WaitRules(max_events=2, grace_s=0.01))
    for n in range(5):
        r.source.produce(page(n), key=VISITOR.encode())
    async with running(r):
        await r.until(lambda: r.stats.after_wait["expired"] == 3, "the oldest three expired")
        await r.until(lambda: r.room.events == 2, "two still waiting")
        r.source.produce(signup(), key=b"u-4711")
        await r.until(lambda: r.stats.after_wait["stitched"] == 2, "the newest two stitched")
    (history,) = activities(r)
    assert re.findall(r"messageId: \S+-(p\d)", str(history["notes"])) == ["p3", "p4"]


async def test_a_person_the_map_knows_from_before_a_restart_costs_no_lookup() -> None:
    book = Book()
    book.apply(PersonEntry(42, False, 900, (), (email_key("u-1@example.com"), id_key("u-1")), ()))
    r = rig(book=book)
    r.source.produce({"type": "track", "userId": "u-1", "event": "Signed In"}, key=b"u-1")
    r.source.produce({"type": "page", "userId": "u-1", "name": "Docs"}, key=b"u-1")
    async with running(r):
        await r.until_finished(2)
    assert [c.resource for c in r.freshsales.calls] == ["sales_activities"] * 2
    assert {a["targetable_id"] for a in activities(r)} == {42}


async def test_an_identify_without_email_of_a_known_person_updates_them_by_id() -> None:
    book = Book()
    book.apply(PersonEntry(42, False, 900, (), (id_key("u-1"),), ()))
    r = rig(book=book)
    r.source.produce({"type": "identify", "userId": "u-1", "traits": {"plan": "pro"}}, key=b"u-1")
    async with running(r):
        await r.until_finished(1)
    (call,) = r.freshsales.calls
    assert (call.method, call.path) == ("PUT", "contacts/42?include=sales_accounts")
    assert call.envelope == {"external_id": "u-1"}  # plan: no such field; reported


async def test_a_known_user_with_a_new_email_is_updated_by_id_never_created_twice() -> None:
    book = Book()
    book.apply(PersonEntry(42, False, 900, (), (email_key("old@example.com"), id_key("u-1")), ()))
    r = rig(book=book)
    r.source.produce(
        {"type": "identify", "userId": "u-1", "traits": {"email": "new@example.com"}}, key=b"u-1"
    )
    async with running(r):
        await r.until_finished(1)
    (call,) = r.freshsales.calls
    assert (call.method, call.path) == ("PUT", "contacts/42?include=sales_accounts")
    assert (call.envelope["emails"], call.envelope["external_id"]) == (
        "new@example.com",
        "u-1",
    )
    assert r.book.owner_of(email_key("new@example.com")) is r.book.get(42, lead=False)


async def test_a_lead_capture_form_links_the_visitor_and_writes_no_external_id() -> None:
    r = rig()
    r.source.produce(page(0), key=VISITOR.encode())
    async with running(r):
        await r.until(lambda: r.room.events == 1, "the page waiting")
        form: dict[str, object] = {
            "type": "identify",
            "anonymousId": VISITOR,
            "traits": {"email": "ada@example.com"},
        }
        r.source.produce(form, key=VISITOR.encode())
        await r.until(lambda: r.stats.after_wait["stitched"] == 1, "the page stitched")
    upsert = r.freshsales.sent("contacts/upsert")[0]
    assert "external_id" not in upsert.envelope
    written = [e for e in r.identity_log.written if isinstance(e, PersonEntry)]
    assert written
    assert email_key("ada@example.com") in written[0].firm
    assert id_key(VISITOR) in written[0].soft


async def test_a_mark_read_last_is_committed_at_once_not_with_whatever_finishes_next() -> None:
    # After a restart the marks of what went are read again; the waiting topic's lag must not
    # stay at 1 until some other event finishes.
    r = rig()
    key, value, headers = parcel.done(id_key(VISITOR), [])
    r.source.append(Partition(WAITING, 0), value, key=key, headers=headers)
    async with running(r):
        await r.until(lambda: waiting_committed(r) == 1, "the mark committed")
    assert r.stats.finished == 0
