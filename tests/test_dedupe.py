"""Delivered track/page messageIds are remembered for the window, within bounded memory."""

from __future__ import annotations

from consumer.engine.memory.seen import SeenMessages


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_delivered_message_id_is_seen_for_the_window() -> None:
    clock = Clock()
    seen = SeenMessages(60, clock=clock)
    assert "m1" not in seen
    seen.add("m1")
    assert "m1" in seen
    clock.now += 61
    assert "m1" not in seen


def test_entries_from_the_ledger_keep_their_own_time() -> None:
    clock = Clock()
    seen = SeenMessages(60, clock=clock)
    seen.add("old", at=clock.now - 90)  # older than the window: not worth keeping
    seen.add("recent", at=clock.now - 30)
    assert "old" not in seen
    assert "recent" in seen
    assert len(seen) == 1


def test_capacity_bounds_memory_oldest_first() -> None:
    seen = SeenMessages(3600, capacity=3)
    for n in range(5):
        seen.add(f"m{n}")
    assert len(seen) == 3
    assert "m0" not in seen
    assert "m4" in seen


def test_disabled_with_a_zero_window() -> None:
    seen = SeenMessages(0)
    seen.add("m1")
    assert not seen.enabled
    assert "m1" not in seen
    assert None not in SeenMessages(60)


def test_an_entry_exactly_one_window_old_is_already_gone() -> None:
    clock = Clock()
    seen = SeenMessages(60, clock=clock)
    seen.add("edge", at=clock.now - 60)
    assert "edge" not in seen
    assert len(seen) == 0
