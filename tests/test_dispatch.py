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


class Pile:
    """A folder of strings: work whose name starts with "+" joins the waiting piece before it."""

    def __init__(self, hold_s: float = 0.0) -> None:
        self.joined: dict[str, list[str]] = {}
        self._hold_s = hold_s

    def join(self, waiting: str, work: str) -> bool:
        if not work.startswith("+"):
            return False
        self.joined.setdefault(waiting, []).append(work)
        return True

    def gather(self, head: str, waiting: object) -> int:
        return 0

    def compact(self, work: str) -> bool:
        return False

    def size(self, work: str) -> int:
        return 1 + len(self.joined.get(work, []))

    def folded(self, work: str) -> int:
        joined = self.joined.get(work, [])
        return 1 + len(joined) if joined else 0

    def hold_s(self, head: str) -> float:
        return self._hold_s


async def test_work_behind_a_waiting_piece_joins_it_but_never_the_one_in_progress() -> None:
    handler, pile = Recorder(), Pile()
    dispatcher = KeyedDispatcher(handler, folder=pile)
    gate = handler.hold("a1")
    dispatcher.submit("a", "a1")
    await asyncio.sleep(0.01)  # a1 is in progress now
    for work in ("+x", "a2", "+y", "+z"):
        dispatcher.submit("a", work)
    # +x could not join a1 (in progress): it waits as a piece of its own; +y and +z join a2,
    # which holds three events folded from then on.
    assert (dispatcher.buffered, dispatcher.items, dispatcher.folded) == (5, 2, 3)
    gate.set()
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert handler.finished == ["a1", "+x", "a2"]
    assert pile.joined == {"a2": ["+y", "+z"]}
    assert dispatcher.buffered == 0


async def test_a_waiting_head_takes_work_in_until_its_turn_comes() -> None:
    handler, pile = Recorder(), Pile()
    dispatcher = KeyedDispatcher(handler, folder=pile)
    for work in ("a1", "+x", "+y"):
        dispatcher.submit("a", work)  # before a worker picked a1 up: it is still waiting
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert (handler.finished, pile.joined) == (["a1"], {"a1": ["+x", "+y"]})


async def test_a_key_of_higher_priority_is_handled_before_keys_that_were_ready_earlier() -> None:
    handler = Recorder()
    dispatcher = KeyedDispatcher(
        handler, priority=lambda work: 0 if work.startswith("new") else 1, workers=1
    )
    gate = handler.hold("busy")
    dispatcher.submit("k0", "busy")
    await asyncio.sleep(0.01)
    for n in range(3):
        dispatcher.submit(f"old{n}", f"old{n}")
    dispatcher.submit("lead", "new-lead")
    gate.set()
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert handler.finished == ["busy", "new-lead", "old0", "old1", "old2"]


async def test_urgent_work_starts_on_a_spare_worker_when_every_worker_is_busy() -> None:
    handler = Recorder()
    dispatcher = KeyedDispatcher(
        handler, priority=lambda work: 0 if work.startswith("new") else 1, workers=2, spare=1
    )
    gates = [handler.hold(f"old{n}") for n in range(4)] + [handler.hold("new1")]
    for n in range(4):
        dispatcher.submit(f"old{n}", f"old{n}")
    await asyncio.sleep(0.01)
    dispatcher.submit("lead1", "new1")
    dispatcher.submit("lead2", "new2")
    await asyncio.sleep(0.01)
    # Two workers busy with old work; the spare one took the first lead, none is left for the
    # second; old work never takes the spare.
    assert handler.started == ["old0", "old1", "new1"]
    gates[-1].set()
    await asyncio.sleep(0.01)
    assert handler.started == ["old0", "old1", "new1", "new2"]
    for gate in gates:
        gate.set()
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert sorted(handler.finished) == ["new1", "new2", "old0", "old1", "old2", "old3"]
    assert handler.most_running == 3


async def test_a_folder_may_hold_a_head_back_so_that_more_can_join_it() -> None:
    handler, pile = Recorder(), Pile(hold_s=0.05)
    dispatcher = KeyedDispatcher(handler, folder=pile)
    dispatcher.submit("a", "a1")
    await asyncio.sleep(0.01)
    dispatcher.submit("a", "+later")
    assert handler.started == []  # still held back
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert (handler.finished, pile.joined) == (["a1"], {"a1": ["+later"]})


async def test_at_most_the_given_number_of_keys_are_handled_at_once() -> None:
    handler = Recorder()
    dispatcher = KeyedDispatcher(handler, workers=2)
    gates = [handler.hold(f"w{n}") for n in range(4)]
    for n in range(4):
        dispatcher.submit(f"k{n}", f"w{n}")
    await asyncio.sleep(0.01)
    assert handler.started == ["w0", "w1"]
    for gate in gates:
        gate.set()
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert sorted(handler.finished) == ["w0", "w1", "w2", "w3"]


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


async def test_a_key_discarded_while_ready_loses_its_turn_and_others_go_on() -> None:
    handler = Recorder()
    dispatcher = KeyedDispatcher(handler, workers=1)
    gate = handler.hold("busy")
    dispatcher.submit("k0", "busy")
    await asyncio.sleep(0.01)
    dispatcher.submit("gone", "revoked")  # ready, waiting for the one worker
    dispatcher.submit("kept", "kept")
    assert dispatcher.discard(lambda work: work == "revoked") == ["revoked"]
    gate.set()
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert handler.finished == ["busy", "kept"]
    assert dispatcher.active_keys == 0


async def test_discarding_work_held_back_for_folding_cancels_its_turn() -> None:
    handler, pile = Recorder(), Pile(hold_s=0.05)
    dispatcher = KeyedDispatcher(handler, folder=pile)
    dispatcher.submit("a", "a1")
    assert dispatcher.discard(lambda work: True) == ["a1"]
    await asyncio.sleep(0.1)  # past the hold: nothing is started
    assert (handler.started, dispatcher.buffered, dispatcher.active_keys) == ([], 0, 0)


async def test_cancel_also_drops_work_held_back_for_folding() -> None:
    handler, pile = Recorder(), Pile(hold_s=0.05)
    dispatcher = KeyedDispatcher(handler, folder=pile)
    dispatcher.submit("a", "a1")
    await dispatcher.cancel()
    await asyncio.sleep(0.1)
    assert handler.started == []


class Willing(Pile):
    """A folder that joins "+" work only once told that the quota got short, and records what it
    was asked to compact."""

    def __init__(self) -> None:
        super().__init__()
        self.willing = False
        self.compacted: list[str] = []

    def join(self, waiting: str, work: str) -> bool:
        return self.willing and super().join(waiting, work)

    def compact(self, work: str) -> bool:
        self.compacted.append(work)
        return False


async def test_compacting_what_waits_folds_it_and_leaves_the_work_in_progress_alone() -> None:
    handler, folder = Recorder(), Willing()
    dispatcher = KeyedDispatcher(handler, folder=folder)
    gate = handler.hold("a1")
    dispatcher.submit("a", "a1")
    await asyncio.sleep(0.01)  # a1 in progress
    for work in ("a2", "+x", "b3"):
        dispatcher.submit("a", work)
    folder.compacted.clear()
    folder.willing = True
    dispatcher.compact_waiting()
    # +x now joins a2; b3 cannot join it and is compacted on its own; a1 is never touched.
    assert folder.joined == {"a2": ["+x"]}
    assert folder.compacted == ["a2", "b3"]
    assert (dispatcher.buffered, dispatcher.items, dispatcher.folded) == (4, 2, 2)
    gate.set()
    await asyncio.wait_for(dispatcher.wait_idle(), 1)
    assert handler.finished == ["a1", "a2", "b3"]
