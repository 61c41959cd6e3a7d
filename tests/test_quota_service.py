"""The quota brain end to end: the real service, the embedded broker and a rate-limited simulator.

The two pacing tests take a minute or more each: a minute window only empties by waiting.
"""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from sandbox.simulator import Simulator, SimulatorConfig, running
from tests.kafka_support import KafkaTopic
from tests.service_support import Running, produce_keyed, service_running, settings_for

# owners, lifecycle stages, activity types, industry types, and three modules' fields
START_UP_READS = 7


def session(user: int, tracks: int) -> list[tuple[bytes, bytes]]:
    """An identify, then ``tracks`` tracks: one call each once the person is known."""
    key = f"user-{user}".encode()
    events: list[dict[str, object]] = [
        {
            "type": "identify",
            "userId": f"user-{user}",
            "messageId": f"identify-{user}",
            "traits": {"email": f"user{user}@example.com", "firstName": f"User{user}"},
        }
    ]
    events += [
        {
            "type": "track",
            "userId": f"user-{user}",
            "event": "Feature Used",
            "messageId": f"track-{user}-{n}",
            "timestamp": "2026-11-30T10:00:00Z",
        }
        for n in range(tracks)
    ]
    return [(key, orjson.dumps(e)) for e in events]


async def until_finished(run: Running, count: int, limit_s: float = 150.0) -> None:
    async with asyncio.timeout(limit_s):
        while run.service.stats.finished < count:
            assert not run.task.done(), "the service stopped"
            await asyncio.sleep(0.1)


def busiest_minute(stamps: list[float]) -> int:
    return max(sum(1 for s in stamps if t <= s < t + 60.0) for t in stamps)


@pytest.mark.slow
async def test_paced_to_the_quota_a_run_longer_than_a_window_sees_no_429(
    kafka_topic: KafkaTopic,
) -> None:
    per_minute, users, tracks = 60, 6, 9
    events = [r for u in range(users) for r in session(u, tracks)]
    calls = START_UP_READS + len(events)  # 67: more than one minute's quota
    simulator = Simulator(SimulatorConfig(per_minute=per_minute, per_hour=1000))
    async with running(simulator) as served:
        await produce_keyed(kafka_topic, events)
        settings = settings_for(
            kafka_topic,
            served,
            FRESHSALES_RATE_LIMIT_PER_MINUTE=str(per_minute),
            FRESHSALES_RATE_LIMIT_PER_HOUR="1000",
            # One call per event, so that the run lasts longer than a window (digests would
            # fold the waiting tracks: tests/test_digests.py).
            ACTIVITY_DIGEST="off",
        )
        started = time.monotonic()
        async with service_running(settings) as run:
            await until_finished(run, len(events))
            took = time.monotonic() - started
            stats = run.service.stats
            state = run.service.budget.state()
    answered = [r for r in simulator.requests if r.status is not None]
    print(f"paced: {len(answered)} calls at {per_minute}/minute took {took:.1f}s")
    assert [r.status for r in answered if r.status == 429] == []
    assert len(answered) == calls
    assert stats.outcomes["delivered"] == len(events)
    assert state.rate_limited == 0
    # Spaced at the minute's rate, not sent as a burst of the whole minute (which a replica
    # joining or restarting would collide with): the first call at once, then one a second.
    assert 64.0 <= took <= 80.0
    assert busiest_minute([r.at for r in answered]) <= per_minute


@pytest.mark.slow
async def test_when_the_account_allows_less_than_configured_a_handful_of_429s_and_no_loss(
    kafka_topic: KafkaTopic,
) -> None:
    # Another integration spends part of the quota: the simulator allows 30, we think 50. The
    # 31st call (at ~36 s) is refused; the rest go at what fitted, after the pause.
    users, tracks = 4, 6
    events = [r for u in range(users) for r in session(u, tracks)]
    simulator = Simulator(SimulatorConfig(per_minute=30, per_hour=1000))
    async with running(simulator) as served:
        await produce_keyed(kafka_topic, events)
        settings = settings_for(
            kafka_topic,
            served,
            FRESHSALES_RATE_LIMIT_PER_MINUTE="50",
            FRESHSALES_RATE_LIMIT_PER_HOUR="1000",
            MAX_IN_FLIGHT="4",
            ACTIVITY_DIGEST="off",  # one activity per track: each is counted below
        )
        async with service_running(settings) as run:
            await until_finished(run, len(events))
            stats = run.service.stats
            state = run.service.budget.state()
    refused = [r for r in simulator.requests if r.status == 429]
    print(f"over-configured: {len(refused)} 429s, rate factor now {state.factor:.1f}")
    assert stats.outcomes["delivered"] == len(events)
    assert not stats.dead_letters
    # Spaced calls meet the ceiling one at a time: one 429 (before, each call in flight got one).
    assert 1 <= len(refused) <= 2
    assert state.rate_limited == len(refused)
    assert state.incidents == 1
    assert state.factor < 1.0  # it paces to what fitted, and will regrow
    activities = simulator.state("suite")["sales_activities"]
    assert len(activities) == users * tracks  # a refused call was retried, not repeated


async def test_unchanged_identifies_and_repeated_message_ids_cost_no_call(
    kafka_topic: KafkaTopic,
) -> None:
    identify = {
        "type": "identify",
        "userId": "u1",
        "traits": {"email": "ada@example.com", "firstName": "Ada"},
    }
    track = {
        "type": "track",
        "userId": "u1",
        "event": "Signed Up",
        "messageId": "the-same-id",
        "timestamp": "2026-11-30T10:00:00Z",
    }
    page = {**track, "type": "page", "name": "Pricing", "messageId": "page-1"}
    # A track between the identifies keeps them apart (queued identifies would merge instead).
    events = [identify, track, identify, track, page, page]
    simulator = Simulator(SimulatorConfig(per_minute=0, per_hour=0))
    async with running(simulator) as served:
        await produce_keyed(kafka_topic, [(b"u1", orjson.dumps(e)) for e in events])
        async with service_running(settings_for(kafka_topic, served)) as run:
            await until_finished(run, len(events))
            stats = run.service.stats
    paths = [r.path.rsplit("/api/", 1)[1] for r in simulator.requests if r.method == "POST"]
    assert paths == ["contacts/upsert", "sales_activities", "sales_activities"]
    assert stats.unchanged == 1
    assert stats.outcomes["deduplicated"] == 2
    assert stats.calls == 3
