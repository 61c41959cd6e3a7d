"""The budget carries out the quota: callers wait their turn, in order, and a 429 holds everyone."""

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
from consumer.freshsales.quota import QuotaConfig


async def test_calls_within_the_quota_do_not_wait() -> None:
    budget = Budget(QuotaConfig(per_minute=10, per_hour=100))
    for _ in range(10):
        await budget.acquire()
        budget.release(200)
    assert budget.calls == 10
    assert budget.waited_s < 0.1
    state = budget.state()
    assert (state.minute.used, state.minute.remaining) == (10, 0)


async def test_a_full_window_keeps_a_reserve_that_only_a_new_persons_call_may_take() -> None:
    budget = Budget(QuotaConfig(per_minute=40, per_hour=10_000))  # a reserve of 2 a minute
    for _ in range(38):  # a backlog fills the minute as far as it may
        await budget.acquire()
        budget.release(200)
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


async def test_a_429_holds_every_caller_until_retry_after_then_they_go_in_arrival_order() -> None:
    budget = Budget(QuotaConfig(per_minute=6000, per_hour=1_000_000))
    await budget.acquire()
    budget.release(429, retry_after_s=0.3)
    order: list[int] = []

    async def caller(n: int) -> float:
        await budget.acquire()
        order.append(n)
        budget.release(200)
        return waited_in_task()

    started = time.monotonic()
    waits = await asyncio.gather(*(caller(n) for n in range(5)))
    assert time.monotonic() - started >= 0.29
    assert order == [0, 1, 2, 3, 4]
    assert all(w >= 0.29 for w in waits)  # each task knows how long it waited for the quota
    assert budget.waiting == 0
    assert budget.state().rate_limited == 1


async def test_a_full_window_makes_the_next_caller_wait_and_an_answer_wakes_nobody_early() -> None:
    budget = Budget(QuotaConfig(per_minute=1, per_hour=100))
    await budget.acquire()  # in flight: its place is taken until a minute after its answer
    waiting = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert budget.waiting == 1
    budget.release(200)
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the answer dates the call; the window still holds it
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert budget.waiting == 0


async def test_the_servers_remaining_header_is_applied() -> None:
    budget = Budget(QuotaConfig(per_minute=400, per_hour=1000))
    await budget.acquire()
    budget.release(200, remaining=3, total=1000)
    assert budget.state().hour.remaining == 3
    assert budget.calls_per_hour() == 1000


async def test_a_caller_whose_work_was_abandoned_gives_up_its_turn_without_a_call() -> None:
    budget = Budget(QuotaConfig(per_minute=6000, per_hour=1_000_000))
    await budget.acquire()
    budget.release(429, retry_after_s=0.2)
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
    await budget.acquire()  # the next caller is not held up
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
