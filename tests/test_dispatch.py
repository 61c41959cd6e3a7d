"""Per-key order, concurrency across keys, and what revocation and crashes leave behind."""

from __future__ import annotations

import asyncio

import pytest

from consumer.engine.dispatch import KeyedDispatcher


class Recorder:
    """A handler whose calls can be held open, to observe ordering and overlap."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.running = 0
        self.most_running = 0

    def hold(self, work: str) -> asyncio.Event:
        return self.gates.setdefault(work, asyncio.Event())

    async def __call__(self, work: str) -> None:
        self.started.append(work)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        if work in self.gates:
            await self.gates[work].wait()
        await asyncio.sleep(0)
        self.running -= 1
        self.finished.append(work)


async def test_one_key_is_handled_in_submission_order_one_at_a_time() -> None:
    handler = Recorder()
    dispatcher = KeyedDispatcher(handler)
    gate = handler.hold("a1")
    for n in range(1, 4):
        dispatcher.submit("a", f"a{n}")
    await asyncio.sleep(0.01)
    assert handler.started == ["a1"]
    gate.set()
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert handler.finished == ["a1", "a2", "a3"]
    assert handler.most_running == 1
    assert (dispatcher.buffered, dispatcher.active_keys) == (0, 0)


async def test_a_slow_key_does_not_hold_up_other_keys() -> None:
    handler = Recorder()
    dispatcher = KeyedDispatcher(handler)
    gate = handler.hold("slow")
    dispatcher.submit("u1", "slow")
    dispatcher.submit("u1", "after-slow")
    for n in range(5):
        dispatcher.submit(f"other{n}", f"o{n}")
    await asyncio.sleep(0.01)
    assert sorted(handler.finished) == [f"o{n}" for n in range(5)]
    assert dispatcher.buffered == 2
    gate.set()
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert handler.finished[-2:] == ["slow", "after-slow"]


async def test_discarding_removes_queued_work_but_never_the_one_in_progress() -> None:
    handler = Recorder()
    dispatcher = KeyedDispatcher(handler)
    gate = handler.hold("p0-1")
    for work in ("p0-1", "p1-2", "p0-3", "p1-4"):
        dispatcher.submit("u", work)
    await asyncio.sleep(0.01)
    removed = dispatcher.discard(lambda w: w.startswith("p0"))
    assert removed == ["p0-3"]
    assert dispatcher.buffered == 3
    gate.set()
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert handler.finished == ["p0-1", "p1-2", "p1-4"]


async def test_a_crashing_handler_is_recorded_and_its_key_abandoned() -> None:
    async def handler(work: str) -> None:
        if work == "bad":
            raise KeyError(work)

    dispatcher = KeyedDispatcher(handler)
    dispatcher.submit("u", "bad")
    dispatcher.submit("u", "next")
    dispatcher.submit("v", "fine")
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert isinstance(dispatcher.crashed, KeyError)
    assert dispatcher.buffered == 0


async def test_cancel_abandons_everything_in_progress() -> None:
    handler = Recorder()
    dispatcher = KeyedDispatcher(handler)
    handler.hold("stuck")
    dispatcher.submit("u", "stuck")
    dispatcher.submit("u", "never")
    await asyncio.sleep(0.01)
    await dispatcher.cancel()
    assert handler.finished == []
    assert dispatcher.buffered == 0
    assert dispatcher.crashed is None


async def test_waiting_for_idle_can_be_bounded() -> None:
    handler = Recorder()
    dispatcher = KeyedDispatcher(handler)
    handler.hold("stuck")
    dispatcher.submit("u", "stuck")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await dispatcher.wait_idle()
    await dispatcher.cancel()


async def test_a_fold_takes_over_work_queued_behind_the_one_about_to_be_handled() -> None:
    handler = Recorder()

    def fold(head: str, waiting: object) -> tuple[str, int]:
        behind = list(waiting)  # type: ignore[call-overload]
        return (f"{head}+{len(behind)}", len(behind)) if head == "a1" else (head, 0)

    dispatcher = KeyedDispatcher(handler, fold)
    for n in range(1, 4):
        dispatcher.submit("a", f"a{n}")
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert handler.finished == ["a1+2"]  # a2 and a3 were taken over: settled with it
    assert dispatcher.buffered == 0


async def test_a_fold_that_takes_more_than_was_queued_is_a_bug_the_service_stops_on() -> None:
    dispatcher = KeyedDispatcher(Recorder(), lambda head, waiting: (head, 5))
    dispatcher.submit("a", "a1")
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert isinstance(dispatcher.crashed, ValueError)


async def test_discarding_leaves_keys_with_nothing_queued_alone() -> None:
    handler = Recorder()
    dispatcher = KeyedDispatcher(handler)
    gate = handler.hold("only")
    dispatcher.submit("a", "only")
    await asyncio.sleep(0)
    assert dispatcher.discard(lambda work: True) == []  # the one in progress stays
    gate.set()
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert handler.finished == ["only"]
