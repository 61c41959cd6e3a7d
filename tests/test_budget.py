"""The budget carries out the quota: callers wait their turn, in order, at the quota's rate; a
429 holds everyone, and the pause ends with one probe whose answer the others wait for."""

from __future__ import annotations

import asyncio
import time

import pytest

from consumer.freshsales.budget import (
    NORMAL,
    UNDER_WAY,
    URGENT,
    Abandoned,
    Budget,
    abandon_when,
    prioritized,
    waited_in_task,
)
from consumer.freshsales.quota import HOUR, Quota, QuotaConfig


def settled(config: QuotaConfig, *, fitted: int = 0) -> Budget:
    """A budget an hour into the service's life (a 429 teaches, the spacing has saved up), with
    ``fitted`` calls answered a minute ago, about to leave the window: what a 429 now will say
    fits in a minute."""
    quota = Quota(config, time.monotonic() - HOUR)
    aged = time.monotonic() - 59.8
    for _ in range(fitted):
        quota.answered(aged, quota.sent(aged))
    return Budget(config, quota=quota)


async def test_calls_within_the_quota_go_at_its_rate() -> None:
    budget = Budget(QuotaConfig(per_minute=600, per_hour=10_000))
    started = time.monotonic()
    for _ in range(10):
        budget.release(200, ticket=await budget.acquire())
    # A new replica starts gently: one call at once, then one every tenth of a second.
    assert 0.85 <= time.monotonic() - started < 1.5
    assert budget.calls == 10
    state = budget.state()
    assert (state.minute.used, state.minute.remaining) == (10, 590)


async def test_a_full_window_keeps_a_reserve_that_only_a_new_persons_call_may_take() -> None:
    # A reserve of 2 a minute; spacing out of the way.
    budget = settled(QuotaConfig(per_minute=40, per_hour=10_000, burst_s=60))
    for _ in range(38):  # a backlog fills the minute as far as it may
        budget.release(200, ticket=await budget.acquire())
    activity = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0.05)
    assert not activity.done()  # the last two places are kept
    assert budget.pressed()

    async def new_lead() -> None:
        prioritized(URGENT)
        await budget.acquire()
        budget.release(200)

    await asyncio.wait_for(asyncio.gather(new_lead(), new_lead()), 1)  # at once, both
    assert not activity.done()
    activity.cancel()
    await asyncio.gather(activity, return_exceptions=True)
    assert budget.state().minute.used == 40


async def test_a_new_persons_call_takes_the_next_place_before_those_waiting_longer() -> None:
    budget = Budget(QuotaConfig(per_minute=6000, per_hour=1_000_000))
    await budget.acquire()
    budget.release(429, retry_after_s=0.1)  # everybody waits for the same moment
    order: list[str] = []

    async def caller(name: str, priority: int) -> None:
        prioritized(priority)
        await budget.acquire()
        order.append(name)
        budget.release(200)

    waiting = [asyncio.create_task(caller(f"activity{n}", NORMAL)) for n in range(3)]
    await asyncio.sleep(0.01)
    waiting.append(asyncio.create_task(caller("new lead", URGENT)))
    await asyncio.gather(*waiting)
    assert order == ["new lead", "activity0", "activity1", "activity2"]


async def test_a_settled_budget_lets_a_few_seconds_worth_go_at_once() -> None:
    budget = settled(QuotaConfig(per_minute=600, per_hour=10_000, burst_s=1.0))
    for _ in range(10):
        budget.release(200, ticket=await budget.acquire())
    assert budget.waited_s < 0.1


async def test_after_a_429_one_probe_goes_and_everyone_else_waits_for_its_answer() -> None:
    budget = settled(QuotaConfig(per_minute=6000, per_hour=100_000), fitted=600)
    budget.release(429, retry_after_s=0.3, ticket=await budget.acquire())
    sent: list[int] = []
    probe: list[int] = []

    async def caller(n: int) -> float:
        ticket = await budget.acquire()
        sent.append(n)
        if n == 0:
            probe.append(ticket)
        else:
            budget.release(200, ticket=ticket)
        return waited_in_task()

    callers = [asyncio.create_task(caller(n)) for n in range(5)]
    await asyncio.sleep(0.6)
    assert sent == [0]  # the probe, alone: its answer has not come
    assert budget.state().probing
    budget.release(200, ticket=probe[0])
    waits = await asyncio.gather(*callers)
    assert sent == [0, 1, 2, 3, 4]  # in arrival order
    assert all(w >= 0.29 for w in waits)  # each task knows how long it waited for the quota
    assert budget.waiting == 0
    state = budget.state()
    assert (state.rate_limited, state.incidents, state.probing) == (1, 1, False)
    assert state.minute.limit == 600  # what fitted in the minute before the 429


async def test_a_probe_met_by_a_429_holds_everyone_again() -> None:
    budget = settled(QuotaConfig(per_minute=6000, per_hour=100_000), fitted=600)
    budget.release(429, retry_after_s=0.1, ticket=await budget.acquire())
    probe = await budget.acquire()
    waiting = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0.05)
    budget.release(429, retry_after_s=0.3, ticket=probe)
    await asyncio.sleep(0.2)
    assert not waiting.done()  # paused again; then it is the next probe
    budget.release(200, ticket=await waiting)
    assert budget.state().rate_limited == 2


async def test_a_full_window_makes_the_next_caller_wait_and_an_answer_wakes_nobody_early() -> None:
    budget = Budget(QuotaConfig(per_minute=1, per_hour=100))
    ticket = await budget.acquire()  # in flight: its place is taken until a minute after its answer
    waiting = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert budget.waiting == 1
    budget.release(200, ticket=ticket)
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the answer dates the call; the window still holds it
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert budget.waiting == 0


async def test_the_servers_remaining_header_is_applied() -> None:
    budget = Budget(QuotaConfig(per_minute=400, per_hour=1000))
    budget.release(200, remaining=3, total=1000, ticket=await budget.acquire())
    assert budget.state().hour.remaining == 3
    assert budget.calls_per_hour() == 1000


async def test_a_rebalance_changes_the_part_and_wakes_who_waits() -> None:
    budget = settled(QuotaConfig(per_minute=240, per_hour=10_000))
    budget.assigned(held=0, partitions=6)
    budget.release(200, ticket=await budget.acquire())
    waiting = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0.1)
    assert not waiting.done()  # no partitions: a call a minute
    budget.assigned(held=3, partitions=6)
    async with asyncio.timeout(1.0):
        budget.release(200, ticket=await waiting)
    state = budget.state()
    assert (state.share, state.minute.limit) == (0.5, 120)


async def test_a_caller_whose_work_was_abandoned_gives_up_its_turn_without_a_call() -> None:
    budget = settled(QuotaConfig(per_minute=6000, per_hour=100_000), fitted=600)
    budget.release(429, retry_after_s=0.2, ticket=await budget.acquire())
    revoked = False

    async def caller() -> None:
        abandon_when(lambda: revoked)  # as the delivery of an event does
        await budget.acquire()

    waiting = asyncio.create_task(caller())
    await asyncio.sleep(0.05)
    revoked = True  # its partition went to another consumer meanwhile
    with pytest.raises(Abandoned):
        await waiting
    assert budget.calls == 1
    assert budget.waiting == 0
    await budget.acquire()  # the next caller is not held up: it is the probe
    assert budget.calls == 2


async def test_work_under_way_makes_its_next_call_before_new_work_starts() -> None:
    budget = Budget(QuotaConfig(per_minute=6000, per_hour=1_000_000))
    await budget.acquire()
    budget.release(429, retry_after_s=0.1)  # everybody waits for the same moment
    order: list[str] = []

    async def chain(name: str, calls: int) -> None:
        prioritized(NORMAL)
        for n in range(calls):
            await budget.acquire()
            order.append(f"{name}{n}")
            budget.release(200)

    await asyncio.gather(chain("a", 2), chain("b", 2), chain("c", 2))
    # Nobody's work stays half done while new work begins.
    assert order == ["a0", "a1", "b0", "b1", "c0", "c1"]
    assert UNDER_WAY < NORMAL
