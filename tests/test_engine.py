"""The engine on an in-memory source and Freshsales: order per key, commits only of finished work,
pauses, dead letters, rebalances and shutdown — what the service promises, without a broker."""

from __future__ import annotations

import asyncio
import random

from consumer.engine.breaker import Breaker
from consumer.engine.source import Partition
from consumer.errors import AccessDenied, RejectedError, TransientError
from tests.engine_support import TOPIC_PARTITION, rig, running
from tests.fakes.freshsales import Call


def identify(user: str, version: int = 0) -> dict[str, object]:
    return {
        "type": "identify",
        "userId": user,
        "messageId": f"{user}-i{version}",
        "traits": {"email": f"{user}@example.com", "firstName": f"v{version:03d}"},
    }


def track(user: str, message_id: str, name: str = "Feature Used") -> dict[str, object]:
    return {
        "type": "track",
        "userId": user,
        "event": name,
        "messageId": message_id,
        "timestamp": "2026-11-30T10:00:00Z",
        "properties": {"n": message_id},
    }


def first_names(calls: list[Call]) -> dict[str, list[str]]:
    """Per email, the first names upserted, in the order Freshsales received them."""
    sent: dict[str, list[str]] = {}
    for call in calls:
        if call.resource == "contacts/upsert":
            contact = call.envelope
            sent.setdefault(str(contact["emails"]), []).append(str(contact.get("first_name")))
    return sent


async def test_each_keys_events_arrive_in_order_while_keys_run_concurrently() -> None:
    r = rig(partitions=3, fold=False)
    delays = random.Random(7)

    async def slow(call: Call) -> None:
        await asyncio.sleep(delays.random() / 500)

    r.freshsales.before = slow
    for version in range(20):
        for u in range(10):
            r.source.produce(identify(f"u{u}", version), partition=u % 3, key=f"u{u}".encode())
    async with running(r):
        await r.until_finished(200)
        await r.until_committed(80, partition=0)
    for u in range(10):
        assert first_names(r.freshsales.calls)[f"u{u}@example.com"] == [
            f"v{v:03d}" for v in range(20)
        ]
    assert r.freshsales.most_concurrent > 1  # keys did run side by side
    assert r.source.committed == {
        Partition("events", 0): 80,
        Partition("events", 1): 60,
        Partition("events", 2): 60,
    }
    assert r.status == 0


async def test_an_offset_is_committed_only_once_everything_before_it_is_finished() -> None:
    r = rig()
    gate = asyncio.Event()

    async def hold_a(call: Call) -> None:
        if call.envelope.get("emails") == "a@example.com":
            await gate.wait()

    r.freshsales.before = hold_a
    r.source.produce(identify("a"), key=b"a")  # offset 0: held
    r.source.produce(identify("b"), key=b"b")  # offset 1: delivered at once
    async with running(r):
        await r.until_finished(1)
        await asyncio.sleep(0.02)  # the committer has had its chance
        assert r.source.position_committed() in (None, 0)
        gate.set()
        await r.until_committed(2)
    assert r.stats.outcomes == {"delivered": 2}


async def test_fetching_pauses_while_the_buffer_is_full_and_resumes_at_half() -> None:
    r = rig(max_buffered=10, fold=False)
    gate = asyncio.Event()

    async def held(call: Call) -> None:
        await gate.wait()

    r.freshsales.before = held
    for n in range(50):
        r.source.produce(identify(f"u{n}"), key=f"u{n}".encode())
    async with running(r):
        await r.until(lambda: r.engine.buffered == 10, "a full buffer")
        await r.until(lambda: TOPIC_PARTITION in r.source.paused, "fetching paused")
        fetched = r.engine.offsets.in_flight
        await asyncio.sleep(0.05)
        assert r.engine.offsets.in_flight == fetched == 10  # nothing more came in
        gate.set()
        await r.until_finished(50)
    assert r.stats.outcomes == {"delivered": 50}


async def test_a_refused_key_stops_delivery_and_fetching_without_dead_letters() -> None:
    r = rig()
    r.freshsales.fail(AccessDenied("the API key was refused (401)", status=401), times=1)
    for n in range(5):
        r.source.produce(identify(f"u{n}"), key=f"u{n}".encode())
    async with running(r):
        await r.until(lambda: bool(r.standing.refusals), "the key refused")
        await r.until(lambda: TOPIC_PARTITION in r.source.paused, "fetching paused")
        for n in range(5, 10):
            r.source.produce(identify(f"u{n}"), key=f"u{n}".encode())
        await asyncio.sleep(0.05)
        assert r.engine.offsets.in_flight <= 5  # the new events wait in the source
        assert r.letters.letters == []
        r.standing.accept()  # the key works again
        await r.until_finished(10)
    assert r.stats.outcomes == {"delivered": 10}
    assert r.letters.letters == []


async def test_an_open_circuit_holds_fetching_while_buffered_work_probes() -> None:
    breaker = Breaker(min_calls=4, window=4, cooldown_s=0.05, probe_poll_s=0.01)
    r = rig(breaker=breaker, fold=False)
    down = [True]

    def outage(call: Call) -> TransientError | None:
        return TransientError("answered 503", status=503) if down[0] else None

    r.freshsales.failures.append(outage)
    for n in range(8):
        r.source.produce(identify(f"u{n}"), key=f"u{n}".encode())
    async with running(r):
        await r.until(breaker.is_open, "the circuit open")
        await r.until(lambda: TOPIC_PARTITION in r.source.paused, "fetching paused")
        for n in range(8, 40):
            r.source.produce(identify(f"u{n}"), key=f"u{n}".encode())
        await asyncio.sleep(0.05)
        assert r.engine.offsets.in_flight == 8  # the backlog waits in the source
        down[0] = False
        await r.until_finished(40)
    assert r.stats.outcomes == {"delivered": 40}
    assert r.letters.letters == []


async def test_what_cannot_be_delivered_is_dead_lettered_with_its_reason_and_committed() -> None:
    r = rig()
    r.freshsales.fail(RejectedError("answered 400", status=400), path="sales_activities")
    r.source.produce(b"not json", key=b"x")
    r.source.produce({"type": "identify", "traits": {"email": "a@example.com"}}, key=b"a")
    r.source.produce(identify("u2"), key=b"u2")
    r.source.produce(track("u2", "t1"), key=b"u2")
    r.source.produce(identify("u3"), key=b"u3")
    async with running(r):
        await r.until_finished(5)
        await r.until_committed(5)
    assert r.letters.reasons == ["invalid_event", "missing_user_id", "rejected"]
    assert [letter.record.offset for letter in r.letters.letters] == [0, 1, 3]
    assert r.stats.outcomes == {"delivered": 2, "dead_lettered": 3}


async def test_an_offset_waits_until_its_dead_letter_is_written() -> None:
    r = rig()
    r.letters.hold = asyncio.Event()
    r.source.produce(b"{", key=b"x")
    async with running(r):
        await asyncio.sleep(0.05)
        assert r.stats.finished == 0
        assert r.source.position_committed() is None
        r.letters.hold.set()
        await r.until_committed(1)


async def test_a_repeated_message_id_is_not_sent_again_and_both_offsets_finish() -> None:
    r = rig()
    r.source.produce(identify("u1"), key=b"u1")
    r.source.produce(track("u1", "t1"), key=b"u1")
    r.source.produce(track("u1", "t1"), key=b"u1")
    async with running(r):
        await r.until_committed(3)
    assert len(r.freshsales.sent("sales_activities")) == 1
    assert r.ledger.recorded == ["t1"]
    assert r.stats.outcomes == {"delivered": 2, "deduplicated": 1}


async def test_identifies_waiting_behind_each_other_are_folded_into_one_upsert() -> None:
    r = rig()
    gate = asyncio.Event()

    async def held(call: Call) -> None:
        await gate.wait()

    r.freshsales.before = held
    r.source.produce(identify("u1", 0), key=b"u1")
    async with running(r):
        await r.until(lambda: len(r.freshsales.calls) == 1, "the first upsert in flight")
        for version in range(1, 5):
            r.source.produce(identify("u1", version), key=b"u1")
        await r.until(lambda: r.engine.buffered == 5, "the others queued behind it")
        gate.set()
        await r.until_committed(5)
    # The first went alone; the four that waited behind it became one upsert (later traits win).
    assert first_names(r.freshsales.calls)["u1@example.com"] == ["v000", "v004"]
    assert r.stats.outcomes == {"delivered": 2, "coalesced": 3}


async def test_records_read_twice_after_a_reset_position_are_delivered_once() -> None:
    r = rig()
    for n in range(3):
        r.source.produce(identify(f"u{n}"), key=f"u{n}".encode())
    async with running(r):
        await r.until_finished(3)
        r.source.rewind(0, 1)
        r.source.produce(identify("u3"), key=b"u3")
        await r.until_committed(4)
    assert len(r.freshsales.sent("contacts/upsert")) == 4


async def test_a_revoked_partition_drops_queued_work_commits_what_finished_and_lets_go() -> None:
    r = rig(partitions=2, revoke_grace_s=0.2, fold=False)
    gate = asyncio.Event()

    async def hold_partition_1(call: Call) -> None:
        if str(call.envelope.get("emails", "")).startswith("p1"):
            await gate.wait()

    r.freshsales.before = hold_partition_1
    r.source.produce(identify("p0-a"), partition=0, key=b"a")
    for version in range(3):
        r.source.produce(identify("p1-b", version), partition=1, key=b"b")
    async with running(r):
        await r.until_committed(1, partition=0)
        await r.until(lambda: r.engine.buffered == 3, "partition 1's work queued")
        r.source.rebalance(revoke=[1])
        await r.until(lambda: Partition("events", 1) not in r.source.assignment(), "revoked")
        # The one in flight had its grace period; the queued two were dropped unstarted.
        assert r.engine.buffered <= 1
        gate.set()
        r.source.produce(identify("p0-c"), partition=0, key=b"c")
        await r.until_committed(2, partition=0)
    assert r.source.position_committed(1) is None  # nothing of partition 1 was finished
    assert Partition("events", 1) not in r.engine.offsets


async def test_every_rebalance_tells_how_many_of_the_topics_partitions_are_held() -> None:
    # What the quota's part follows: given at each assignment, taken once a revocation's work
    # is finished or given up (not before: until then the calls are still this consumer's).
    heard: list[tuple[int, int | None]] = []
    r = rig(partitions=4, on_assignment=lambda held, of: heard.append((held, of)))
    async with running(r):
        await r.until(lambda: heard == [(4, 4)], "the first assignment")
        r.source.rebalance(revoke=[2, 3])
        await r.until(lambda: len(heard) == 2, "the revocation")
        r.source.rebalance(revoke=[0, 1], assign=[3])
        await r.until(lambda: len(heard) == 4, "the next rebalance")
    assert heard == [(4, 4), (2, 4), (0, 4), (1, 4)]
    assert r.engine.assigned


async def test_stopping_finishes_in_flight_work_within_the_grace_period_and_commits() -> None:
    r = rig(shutdown_grace_s=5.0)
    gate = asyncio.Event()

    async def held(call: Call) -> None:
        await gate.wait()

    r.freshsales.before = held
    r.source.produce(identify("u1"), key=b"u1")
    async with running(r):
        await r.until(lambda: len(r.freshsales.calls) == 1, "the call in flight")
        r.stop.set()
        await asyncio.sleep(0.02)
        gate.set()  # the answer comes during the grace period
    assert r.status == 0
    assert r.stats.outcomes == {"delivered": 1}
    assert r.source.position_committed() == 1
    assert r.source.stopped


async def test_work_that_outlasts_the_grace_period_is_abandoned_and_not_committed() -> None:
    r = rig(shutdown_grace_s=0.05)
    r.freshsales.gate = asyncio.Event()  # Freshsales never answers
    r.source.produce(identify("u1"), key=b"u1")
    r.source.produce(identify("u2"), key=b"u2")
    async with running(r):
        await r.until(lambda: len(r.freshsales.calls) == 2, "both calls in flight")
    assert r.status == 0
    assert r.stats.finished == 0
    assert r.source.position_committed() is None  # the next owner delivers them
    assert r.source.stopped


async def test_a_crashing_handler_stops_the_engine_with_status_1_and_commits_nothing() -> None:
    r = rig()

    async def broken(call: Call) -> None:
        raise RuntimeError("a bug")

    r.freshsales.before = broken
    r.source.produce(identify("u1"), key=b"u1")
    async with running(r):
        await r.until(lambda: r.engine.dispatcher.crashed is not None, "the crash")
        await r.until(lambda: r.source.stopped, "the engine stopping by itself")
    assert r.status == 1
    assert r.source.position_committed() is None


async def test_a_failed_commit_is_left_for_the_next_progress() -> None:
    r = rig()
    r.source.fail_commits = True
    r.source.produce(identify("u1"), key=b"u1")
    async with running(r):
        await r.until_finished(1)
        await asyncio.sleep(0.02)
        assert r.source.commits == []
        r.source.fail_commits = False
        r.source.produce(identify("u2"), key=b"u2")
        await r.until_committed(2)
