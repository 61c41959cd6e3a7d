"""The quota model: two sliding windows, pauses and cuts after a 429, and the server's hints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.backoff import Backoff
from consumer.freshsales.quota import Quota, QuotaConfig, drain_eta_s


def spend(quota: Quota, now: float, calls: int = 1) -> None:
    for _ in range(calls):
        assert quota.wait_s(now) == 0
        quota.sent()
        quota.answered(now)


def test_calls_flow_until_the_minute_window_is_full_then_wait_for_the_oldest_to_age_out() -> None:
    quota = Quota(QuotaConfig(per_minute=3, per_hour=100))
    spend(quota, 0.0)
    spend(quota, 10.0, 2)
    assert quota.wait_s(20.0) == pytest.approx(40.0)  # the call answered at 0 leaves at 60
    assert quota.wait_s(60.0) == 0
    spend(quota, 60.0)
    assert quota.wait_s(60.0) == pytest.approx(10.0)


def test_the_hour_window_limits_too() -> None:
    quota = Quota(QuotaConfig(per_minute=400, per_hour=5))
    spend(quota, 0.0, 5)
    assert quota.wait_s(100.0) == pytest.approx(3500.0)
    assert quota.calls_per_hour(100.0) == 5


def test_a_call_counts_from_sending_until_a_window_after_its_answer() -> None:
    quota = Quota(QuotaConfig(per_minute=1, per_hour=100))
    quota.sent()
    # In flight: nothing frees its place but the answer.
    assert quota.wait_s(30.0) is None
    quota.answered(45.0)
    assert quota.wait_s(50.0) == pytest.approx(55.0)


def test_the_share_is_this_process_part_of_the_account() -> None:
    quota = Quota(QuotaConfig(per_minute=400, per_hour=1000, share=0.25))
    state = quota.state(0.0)
    assert (state.minute.limit, state.hour.limit) == (100, 250)
    spend(quota, 0.0, 100)
    assert quota.wait_s(0.0) == pytest.approx(60.0)


def test_a_429_pauses_everything_until_retry_after_and_halves_the_usable_share() -> None:
    quota = Quota(QuotaConfig(per_minute=100, per_hour=1000))
    quota.sent()
    quota.answered(0.0, rate_limited=True, retry_after_s=20.0)
    assert quota.wait_s(1.0) == pytest.approx(19.0)
    state = quota.state(20.0)
    assert (state.minute.limit, state.hour.limit, state.factor) == (50, 500, 0.5)
    assert state.rate_limited == 1


def test_after_a_cut_the_rate_recovers_step_by_step() -> None:
    config = QuotaConfig(per_minute=100, per_hour=1000, recover_step=0.1, recover_every_s=30.0)
    quota = Quota(config)
    quota.sent()
    quota.answered(0.0, rate_limited=True, retry_after_s=10.0)
    factors = [quota.factor(10.0 + 30.0 * n) for n in range(7)]
    assert factors == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0])


def test_429s_of_calls_already_in_flight_are_one_incident_not_many_cuts() -> None:
    quota = Quota(QuotaConfig(per_minute=100, per_hour=1000))
    for _ in range(8):
        quota.sent()
    quota.answered(0.0, rate_limited=True, retry_after_s=5.0)
    for n in range(7):
        quota.answered(0.1 * n, rate_limited=True, retry_after_s=5.0)
    assert quota.factor(5.0) == 0.5
    assert quota.state(5.0).rate_limited == 8


def test_a_second_429_after_the_pause_cuts_again_but_never_below_the_floor() -> None:
    quota = Quota(QuotaConfig(per_minute=100, per_hour=1000, floor=0.2))
    now = 0.0
    for _ in range(5):
        quota.sent()
        quota.answered(now, rate_limited=True, retry_after_s=1.0)
        now += 1.0
    assert quota.factor(now) == pytest.approx(0.2)
    assert quota.state(now).minute.limit == 20


def test_without_retry_after_the_pause_doubles_per_consecutive_429_up_to_the_cap() -> None:
    quota = Quota(QuotaConfig(per_minute=100, per_hour=1000, backoff=Backoff(5.0, 15.0)))
    pauses = []
    now = 0.0
    for _ in range(4):
        quota.sent()
        quota.answered(now, rate_limited=True)
        pauses.append(quota.state(now).paused_for_s)
        now += pauses[-1]
    assert pauses == [5.0, 10.0, 15.0, 15.0]
    quota.sent()
    quota.answered(now)  # an answer that is not a 429 ends the streak
    quota.sent()
    quota.answered(now, rate_limited=True)
    assert quota.state(now).paused_for_s == 5.0


def test_the_servers_remaining_count_tightens_the_hour_window() -> None:
    quota = Quota(QuotaConfig(per_minute=400, per_hour=1000))
    spend(quota, 0.0, 10)
    quota.server_remaining(0.0, remaining=5, total=1000)
    state = quota.state(0.0)
    assert (state.hour.used, state.hour.others, state.hour.remaining) == (10, 985, 5)
    spend(quota, 0.0, 5)
    assert quota.wait_s(0.0) == pytest.approx(3600.0)


def test_a_remaining_count_above_ours_changes_nothing() -> None:
    quota = Quota(QuotaConfig(per_minute=400, per_hour=1000, share=0.5))
    quota.server_remaining(0.0, remaining=900, total=None)
    assert quota.state(0.0).hour.remaining == 450


def test_a_remaining_count_of_the_minute_window_goes_to_the_minute_window() -> None:
    quota = Quota(QuotaConfig(per_minute=400, per_hour=1000))
    quota.server_remaining(0.0, remaining=10, total=400)
    state = quota.state(0.0)
    assert (state.minute.remaining, state.hour.remaining) == (10, 1000)
    assert quota.wait_s(0.0) == 0


def test_nonsense_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        QuotaConfig(per_minute=0, per_hour=1)
    with pytest.raises(ValueError, match="share"):
        QuotaConfig(per_minute=1, per_hour=1, share=0)


def test_the_drain_estimate_is_backlog_times_cost_over_the_rate() -> None:
    assert drain_eta_s(1000, 1.0, 1000.0) == pytest.approx(3600.0)
    assert drain_eta_s(500, 0.5, 1000.0) == pytest.approx(900.0)
    assert drain_eta_s(0, 1.0, 0.0) == 0.0
    assert drain_eta_s(10, 1.0, 0.0) is None


@given(
    st.lists(
        st.tuples(st.floats(0, 30), st.booleans()),
        min_size=1,
        max_size=200,
    ),
    st.integers(1, 20),
)
def test_no_minute_ever_holds_more_calls_than_the_limit(
    steps: list[tuple[float, bool]], limit: int
) -> None:
    """Whatever the timing, a caller that waits as told never exceeds the window."""
    quota = Quota(QuotaConfig(per_minute=limit, per_hour=10_000))
    now = 0.0
    sent_at: list[float] = []
    for gap, _ in steps:
        now += gap
        wait = quota.wait_s(now)
        assert wait is not None  # nothing stays in flight here
        now += wait
        assert quota.wait_s(now) == 0
        quota.sent()
        quota.answered(now)
        sent_at.append(now)
    for t in sent_at:
        assert sum(1 for s in sent_at if t <= s < t + 60.0) <= limit
