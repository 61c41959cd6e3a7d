"""The reserve: what a backlog leaves of each window to new people's calls, and for how long."""

from __future__ import annotations

import pytest

from consumer.freshsales.quota import HOUR, Quota, QuotaConfig
from consumer.freshsales.reserve import backlog_wait_s, reserved
from consumer.freshsales.windows import Window


def quota(per_minute: int, per_hour: int = 100_000) -> Quota:
    """Spacing out of the way (a whole minute may go at once): the windows decide."""
    return Quota(QuotaConfig(per_minute=per_minute, per_hour=per_hour, burst_s=60), now=-HOUR)


def spend(q: Quota, now: float, calls: int, *, backlog: bool = True) -> None:
    for _ in range(calls):
        assert q.wait_s(now, reserve=backlog) == 0
        q.answered(now, q.sent(now))


@pytest.mark.parametrize(
    ("capacity", "kept"), [(1, 0), (19, 0), (20, 1), (40, 2), (400, 20), (1000, 50), (5000, 250)]
)
def test_the_reserve_is_a_twentieth_of_the_window(capacity: int, kept: int) -> None:
    assert reserved(capacity) == kept


def test_a_backlog_leaves_the_reserve_to_new_people() -> None:
    q = quota(per_minute=40)
    spend(q, 0.0, 38)
    # The backlog waits until the reserve will be whole 3 s later (the first call leaves at 60).
    assert q.wait_s(1.0, reserve=True) == pytest.approx(56.0)
    spend(q, 1.0, 2, backlog=False)  # a new person's calls take the reserve, at once
    assert q.wait_s(1.0, reserve=False) == pytest.approx(59.0)


def test_a_backlog_may_take_reserved_places_that_free_up_within_the_horizon() -> None:
    q = quota(per_minute=40)
    spend(q, 0.0, 38)
    # At 57 s the calls of 0 s leave within 3 s: the reserve is whole again by then.
    assert q.wait_s(57.0, reserve=True) == 0
    spend(q, 57.0, 2)
    assert q.wait_s(57.0, reserve=True) == pytest.approx(3.0)  # the window is full until 60
    # …so a new person's call waits at most the horizon for its place.
    assert q.wait_s(57.0, reserve=False) == pytest.approx(3.0)


def test_a_backlog_at_the_plans_pace_uses_the_whole_quota() -> None:
    q = quota(per_minute=400)
    sent, now = 0, 0.0
    while now < 600.0:  # ten minutes of a backlog that sends whenever it may
        wait = q.wait_s(now, reserve=True)
        assert wait is not None
        if wait == 0:
            q.answered(now, q.sent(now))
            sent += 1
        else:
            now += wait
    assert sent >= 10 * 400


def test_a_small_window_keeps_no_reserve() -> None:
    q = quota(per_minute=10)
    spend(q, 0.0, 10)
    assert q.wait_s(0.0, reserve=True) == pytest.approx(60.0)


def test_only_an_answer_can_free_a_place_held_by_calls_in_flight() -> None:
    window = Window("minute", 40, 60.0)
    assert backlog_wait_s(window, 40, 40, 0.0) is None
    assert backlog_wait_s(window, 40, 38, 0.0) is None  # fits now, not with the reserve
    assert backlog_wait_s(window, 40, 37, 0.0) == 0
