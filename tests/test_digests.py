"""When events outnumber the quota: a person's waiting activities go out as one digest, new people
go first, and the engine reads far ahead holding what waits compactly — on the in-memory source."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from consumer.engine import parcel
from consumer.engine.folding import FoldRules
from consumer.errors import RejectedError
from tests.engine_support import Rig, rig, running
from tests.fakes.freshsales import Call
from translate.digest import TIMES as X

EMAIL = {"context": {"traits": {"email": "ada@example.com"}}}


def track(
    n: int, name: str = "Feature Used", user: str = "u1", **extra: object
) -> dict[str, object]:
    return {
        "type": "track",
        "userId": user,
        "event": name,
        "messageId": f"{user}-t{n}",
        "timestamp": f"2026-11-30T10:{n:02d}:00Z",
        "properties": {"n": n},
        **EMAIL,
        **extra,
    }


def page(n: int, user: str = "u1") -> dict[str, object]:
    return {
        "type": "page",
        "userId": user,
        "name": "Pricing",
        "messageId": f"{user}-p{n}",
        "timestamp": f"2026-11-30T11:{n:02d}:00Z",
        **EMAIL,
    }


def identify(user: str) -> dict[str, object]:
    return {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}}


def activities(r: Rig) -> list[Call]:
    return r.freshsales.sent("sales_activities")


async def first_call_held(r: Rig) -> asyncio.Event:
    """Hold Freshsales' answer to the first call, so that what comes next waits behind it."""
    gate = asyncio.Event()
    held = [False]

    async def hold_first(call: Call) -> None:
        if not held[0]:
            held[0] = True
            await gate.wait()

    r.freshsales.before = hold_first
    return gate


async def test_with_quota_to_spare_a_burst_still_goes_out_one_activity_per_event() -> None:
    r = rig()
    gate = await first_call_held(r)
    for n in range(4):
        r.source.produce(track(n), key=b"u1")
    async with running(r):
        await r.until(lambda: r.engine.buffered == 4, "the burst queued")
        gate.set()
        await r.until_committed(4)
    assert len(activities(r)) == 4
    assert r.stats.digests == 0


async def test_activities_waiting_for_the_quota_become_one_digest_activity() -> None:
    r = rig(pressed=True)
    gate = await first_call_held(r)
    r.source.produce(track(0), key=b"u1")
    async with running(r):
        await r.until(lambda: len(r.freshsales.calls) == 1, "the first call in flight")
        for n in range(1, 5):
            r.source.produce(track(n, "Viewed Pricing" if n % 2 else "Feature Used"), key=b"u1")
        r.source.produce(page(5), key=b"u1")
        await r.until(lambda: r.engine.buffered == 6, "the rest waiting")
        assert (r.engine.dispatcher.items, r.engine.dispatcher.folded) == (1, 5)
        gate.set()
        await r.until_committed(6)
    first, digest = (call.envelope for call in activities(r))
    assert first["title"] == "Feature Used"  # it went before anything waited
    assert digest["title"] == f"5 events: Viewed Pricing {X}3, Feature Used {X}2"  # a page, too
    assert (digest["start_date"], digest["end_date"]) == (
        "2026-11-30T10:01:00+00:00",
        "2026-11-30T11:05:00+00:00",
    )
    assert digest["sales_activity_type_id"] == 701  # not pages only: the track type
    notes = str(digest["notes"]).split("\n")
    assert notes[0] == "2026-11-30T10:01:00+00:00 · Viewed Pricing · n: 1 · messageId: u1-t1"
    assert [line.rsplit("messageId: ", 1)[1] for line in notes] == [
        "u1-t1",
        "u1-t2",
        "u1-t3",
        "u1-t4",
        "u1-p5",
    ]
    assert r.ledger.recorded == ["u1-t0", "u1-t1", "u1-t2", "u1-t3", "u1-t4", "u1-p5"]
    assert r.stats.outcomes == {"delivered": 2, "folded": 4}
    assert (r.stats.digests, r.stats.calls) == (1, 3)  # the person once, then two activities


async def test_each_event_of_a_digest_has_its_own_log_line_with_its_own_type_and_id() -> None:
    r = rig(pressed=True)
    gate = await first_call_held(r)
    r.source.produce(identify("u1"), key=b"u1")
    async with running(r):
        await r.until(lambda: len(r.freshsales.calls) == 1, "the identify in flight")
        r.source.produce(page(1), key=b"u1")
        r.source.produce(track(2), key=b"u1")
        r.source.produce(page(3), key=b"u1")
        await r.until(lambda: r.engine.buffered == 4, "the activities waiting")
        with capture_logs() as logs:
            gate.set()
            await r.until_committed(4)
    outcomes = [
        (line["event"], line["type"], line["message_id"], line["offset"])
        for line in logs
        if line["event"] in ("delivered", "folded")
    ]
    assert outcomes == [
        ("delivered", "identify", None, 0),
        ("delivered", "page", "u1-p1", 1),  # the digest's line names its first event
        ("folded", "track", "u1-t2", 2),
        ("folded", "page", "u1-p3", 3),
    ]


async def test_a_stage_map_event_in_a_digest_still_moves_the_stage_and_pages_take_their_type() -> (
    None
):
    from translate import Options

    r = rig(pressed=True, options=Options(stage_map={"Order Completed": "Customer"}))
    gate = r.freshsales.gate = asyncio.Event()  # every call waits: everything queues
    r.source.produce(identify("u2"), key=b"u2")
    async with running(r):
        await r.until(lambda: len(r.freshsales.calls) == 1, "the first call in flight")
        for n in range(3):
            r.source.produce(page(n, "u2"), key=b"u2")
        r.source.produce(identify("u3"), key=b"u3")
        for n, name in enumerate(["Viewed Pricing", "Order Completed", "Feature Used"]):
            r.source.produce(track(n, name, "u3"), key=b"u3")
        await r.until(lambda: r.engine.buffered == 8, "everything waiting")
        gate.set()
        await r.until_committed(8)
    by_title = {call.envelope["title"]: call.envelope for call in activities(r)}
    assert by_title[f"3 events: Viewed Pricing {X}3"]["sales_activity_type_id"] == 702  # pages
    stage_moves = [c for c in r.freshsales.calls if c.method == "PUT"]
    assert [c.envelope for c in stage_moves] == [{"lifecycle_stage_id": 503}]


async def test_a_digest_keeps_within_its_bounds_and_an_event_too_large_goes_alone() -> None:
    r = rig(pressed=True, rules=FoldRules(max_events=3, max_line=200))
    gate = await first_call_held(r)
    r.source.produce(track(0), key=b"u1")
    async with running(r):
        await r.until(lambda: len(r.freshsales.calls) == 1, "the first call in flight")
        for n in range(1, 8):
            r.source.produce(track(n), key=b"u1")
        r.source.produce(track(8, properties={"essay": "x" * 500}), key=b"u1")
        r.source.produce(track(9), key=b"u1")
        await r.until(lambda: r.engine.buffered == 10, "everything waiting")
        gate.set()
        await r.until_committed(10)
    titles = [str(call.envelope["title"]) for call in activities(r)]
    assert titles == [
        "Feature Used",
        f"3 events: Feature Used {X}3",
        f"3 events: Feature Used {X}3",
        "Feature Used",  # the seventh: alone, no room in a digest behind it
        "Feature Used",  # the large one, with all its notes
        "Feature Used",
    ]
    assert "x" * 500 in str(activities(r)[4].envelope["notes"])


async def test_a_digest_freshsales_refuses_is_split_so_only_the_bad_event_is_dead_lettered() -> (
    None
):
    r = rig(pressed=True)

    def refuse_bad(call: Call) -> RejectedError | None:
        if call.resource == "sales_activities" and "poison" in str(call.envelope.get("notes")):
            return RejectedError("answered 400", status=400, messages=("notes invalid",))
        return None

    gate = await first_call_held(r)
    r.freshsales.failures.append(refuse_bad)
    r.source.produce(track(0), key=b"u1")
    async with running(r):
        await r.until(lambda: len(r.freshsales.calls) == 1, "the first call in flight")
        for n in range(1, 7):
            event = track(n)
            if n == 4:
                event["properties"] = {"n": "poison"}
            r.source.produce(event, key=b"u1")
        await r.until(lambda: r.engine.buffered == 7, "everything waiting")
        gate.set()
        await r.until_committed(7)
    assert [letter.record.offset for letter in r.letters.letters] == [4]
    letter = r.letters.letters[0]
    assert letter.reason.value == "rejected"
    assert b"poison" in (letter.record.value or b"")  # its original bytes, read again
    delivered = [m for c in activities(r) for m in str(c.envelope["notes"]).split("messageId: ")]
    for n in (1, 2, 3, 5, 6):
        assert any(part.startswith(f"u1-t{n}") for part in delivered), n
    assert r.stats.dead_letters == {"rejected": 1}
    assert (4, 4) in [(p * 0 + o, o) for p, o in r.source.rereads]


async def test_a_digest_whose_person_is_not_known_yet_waits_event_by_event() -> None:
    r = rig(pressed=True)
    for n in range(3):  # no email, never identified: nobody to put them on yet
        r.source.produce({**track(n, user="ghost"), "context": {}}, key=b"ghost")
    r.source.produce(identify("u9"), key=b"u9")  # someone else is not held back
    async with running(r):
        await r.until_committed(4)
    assert r.stats.outcomes["waiting"] == 3
    assert r.letters.letters == []
    kept = r.waiting.kept
    assert [parcel.source_record(k).offset for k in kept] == [0, 1, 2]
    assert all(k.value is not None and b"ghost" in k.value for k in kept)  # its original bytes
    assert len(r.freshsales.sent("contacts/upsert")) == 1


async def test_a_message_id_delivered_before_or_twice_in_a_digest_is_sent_once() -> None:
    r = rig(pressed=True)
    r.deliverer._memory.seen.add("u1-t2")  # delivered before a restart: the ledger says so
    gate = await first_call_held(r)
    r.source.produce(track(0), key=b"u1")
    async with running(r):
        await r.until(lambda: len(r.freshsales.calls) == 1, "the first call in flight")
        for n in (1, 1, 2, 3):  # t1 comes twice
            r.source.produce(track(n), key=b"u1")
        await r.until(lambda: r.engine.buffered == 5, "everything waiting")
        gate.set()
        await r.until_committed(5)
    notes = [str(c.envelope["notes"]) for c in activities(r)]
    assert len(notes) == 2
    assert notes[1].count("messageId: u1-t1") == 1
    assert "u1-t2" not in notes[1]
    assert "messageId: u1-t3" in notes[1]
    assert r.stats.outcomes["deduplicated"] == 2


async def test_a_new_person_goes_before_the_activities_waiting_for_the_quota() -> None:
    r = rig(pressed=True)
    r.engine.dispatcher._max_workers = 1  # one call at a time: the order is visible
    r.engine.dispatcher._spare = 0
    gate = await first_call_held(r)
    for u in range(3):
        r.source.produce(track(0, user=f"busy{u}"), key=f"busy{u}".encode())
    async with running(r):
        await r.until(lambda: len(r.freshsales.calls) == 1, "the first call in flight")
        r.source.produce(identify("lead"), key=b"lead")
        await r.until(lambda: r.engine.buffered == 4, "the lead queued behind them")
        gate.set()
        await r.until_committed(4)
    calls = [str(c.envelope.get("emails") or c.resource) for c in r.freshsales.calls]
    # busy0's two calls were under way; then the lead, before busy1's and busy2's activities.
    assert calls == [
        "ada@example.com",
        "sales_activities",
        "lead@example.com",
        "sales_activities",
        "sales_activities",
    ]


async def test_a_new_person_does_not_wait_for_a_worker_when_every_worker_waits_for_the_quota() -> (
    None
):
    r = rig(pressed=True)
    r.engine.dispatcher._max_workers = 3
    r.freshsales.gate = asyncio.Event()  # the quota is spent: nobody is answered for now
    for u in range(10):
        own: dict[str, object] = {"context": {"traits": {"email": f"busy{u}@example.com"}}}
        r.source.produce({**track(0, user=f"busy{u}"), **own}, key=f"busy{u}".encode())
    async with running(r):
        await r.until(lambda: len(r.freshsales.calls) == 3, "every worker waiting")
        r.source.produce(identify("lead"), key=b"lead")
        await r.until(lambda: len(r.freshsales.calls) == 4, "the lead's call, beside them")
        assert r.freshsales.calls[-1].envelope.get("emails") == "lead@example.com"
        r.freshsales.gate.set()
        await r.until_committed(11)


async def test_the_engine_reads_far_ahead_holding_what_waits_as_lines() -> None:
    r = rig(pressed=True, max_buffered=20)
    r.freshsales.gate = asyncio.Event()  # the quota is spent: nothing is answered for now
    for n in range(2000):
        user = f"u{n % 10}"
        r.source.produce(track(n % 60, user=user), key=user.encode())
    async with running(r):
        await r.until(lambda: r.engine.buffered == 2000, "the whole backlog read")
        items, folded = r.engine.dispatcher.items, r.engine.dispatcher.folded
        held_values = [
            w.record.value for q in r.engine.dispatcher._queues.values() for w in q if w.members
        ]
        r.freshsales.gate.set()
        await r.until_committed(2000)
    assert items <= 20 + 10  # a piece (or two) per person: far beyond MAX_BUFFERED=20 read
    assert folded >= 1950
    assert held_values
    assert all(value is None for value in held_values)  # only their lines are kept


async def test_a_session_window_folds_a_persons_events_even_with_quota_to_spare() -> None:
    r = rig(rules=FoldRules(window_s=0.1))
    for n in range(3):
        r.source.produce(track(n), key=b"u1")
    async with running(r):
        await r.until_committed(3)
    assert [c.envelope["title"] for c in activities(r)] == [f"3 events: Feature Used {X}3"]


async def test_while_many_people_wait_each_is_held_as_a_line_and_a_lone_one_goes_as_it_came() -> (
    None
):
    r = rig(pressed=True, max_buffered=20)
    r.engine.dispatcher._max_workers = 2
    r.freshsales.gate = asyncio.Event()  # the quota is spent: nothing is answered for now
    for n in range(3):  # round the people: nobody's second event comes before everyone's first
        for user in range(200):
            r.source.produce(track(n, user=f"p{user}"), key=f"p{user}".encode())
    r.source.produce(track(0, "Lone Event", user="loner"), key=b"loner")
    async with running(r):
        await r.until(lambda: r.engine.buffered == 601, "everyone's events read")
        assert r.engine.dispatcher.items <= 20 + 2  # far beyond MAX_BUFFERED: lines, not events
        r.freshsales.gate.set()
        await r.until_committed(601)
    lone = [c.envelope for c in activities(r) if c.envelope["title"] == "Lone Event"]
    assert len(lone) == 1  # its own activity, as it came, from its record read again
    assert "messageId: loner-t0" in str(lone[0]["notes"])
    assert (0, 600) in r.source.rereads
    assert r.stats.outcomes["folded"] >= 200


async def test_a_buffer_filled_before_the_quota_got_short_is_folded_when_it_does() -> None:
    r = rig(pressed=False, max_buffered=50)
    r.engine.dispatcher._max_workers = 2
    r.freshsales.gate = asyncio.Event()  # nothing is answered for now
    for n in range(10):
        for user in range(30):
            r.source.produce(track(n, user=f"p{user}"), key=f"p{user}".encode())
    async with running(r):
        await r.until(lambda: r.engine.buffered >= 50, "the buffer full of whole events")
        assert r.engine.dispatcher.folded == 0  # quota to spare: nothing folds
        assert r.engine.buffered < 300  # fetching paused at MAX_BUFFERED
        r.pressed[0] = True  # now calls wait for the quota
        await r.until(lambda: r.engine.buffered == 300, "the rest read, folded")
        await r.until(lambda: r.engine.dispatcher.items <= 50, "what waited folded")
        r.freshsales.gate.set()
        await r.until_committed(300)
    assert r.stats.digests > 0


async def test_a_buffer_still_draining_from_full_is_folded_when_the_quota_gets_short() -> None:
    r = rig(pressed=False, max_buffered=50)
    r.engine.dispatcher._max_workers = 2
    gate, answered = asyncio.Event(), [0]

    async def a_few_then_hold(call: Call) -> None:
        answered[0] += 1
        if answered[0] > 6:
            await gate.wait()

    r.freshsales.before = a_few_then_hold
    for n in range(10):
        for user in range(30):
            r.source.produce(track(n, user=f"p{user}"), key=f"p{user}".encode())
    async with running(r):
        await r.until(lambda: answered[0] > 6, "a few calls answered")
        # Fetching stays paused until the buffer drains to half: below full, above half.
        assert 25 < r.engine.buffered < 50
        r.pressed[0] = True
        await r.until(lambda: r.engine.buffered > 250, "the rest read, folded")
        gate.set()
        await r.until_committed(300)
    assert r.stats.digests > 0
