"""The quota model: two sliding windows, spacing, the replica's part, a 429's pause, probe and
lesson, and the server's hints. Times are passed in: the model has no clock of its own."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.backoff import Backoff
from consumer.freshsales.quota import HOUR, Quota, QuotaConfig, drain_eta_s


def quiet(config: QuotaConfig) -> Quota:
    """A replica up for an hour without a call: its spacing has saved up, its windows are old."""
    return Quota(config, now=-HOUR)


def windows_only(per_minute: int, per_hour: int, share: float = 1.0) -> Quota:
    """Spacing out of the way (a whole minute may go at once): the windows alone decide."""
    return quiet(QuotaConfig(per_minute=per_minute, per_hour=per_hour, share=share, burst_s=60))


def spend(quota: Quota, now: float, calls: int = 1, status: int = 200) -> None:
    for _ in range(calls):
        assert quota.wait_s(now) == 0
        quota.answered(now, quota.sent(now), status)


def test_calls_flow_until_the_minute_window_is_full_then_wait_for_the_oldest_to_age_out() -> None:
    quota = windows_only(per_minute=3, per_hour=100)
    spend(quota, 0.0)
    spend(quota, 10.0, 2)
    assert quota.wait_s(20.0) == pytest.approx(40.0)  # the call answered at 0 leaves at 60
    assert quota.wait_s(60.0) == 0
    spend(quota, 60.0)
    assert quota.wait_s(60.0) == pytest.approx(10.0)


def test_the_hour_window_limits_too() -> None:
    quota = windows_only(per_minute=400, per_hour=5)
    spend(quota, 0.0, 5)
    assert quota.wait_s(100.0) == pytest.approx(3500.0)
    assert quota.calls_per_hour(100.0) == 5


def test_a_call_counts_from_sending_until_a_window_after_its_answer() -> None:
    quota = windows_only(per_minute=1, per_hour=100)
    ticket = quota.sent(0.0)
    # In flight: nothing frees its place but the answer.
    assert quota.wait_s(30.0) is None
    quota.answered(45.0, ticket)
    assert quota.wait_s(50.0) == pytest.approx(55.0)


def test_the_deployments_share_divided_by_the_replicas_partitions() -> None:
    quota = windows_only(per_minute=400, per_hour=1000, share=0.5)
    state = quota.state(0.0)
    assert (state.minute.limit, state.hour.limit, state.share) == (200, 500, 0.5)
    quota.assigned(held=2, partitions=8)
    state = quota.state(0.0)
    assert (state.minute.limit, state.hour.limit) == (50, 125)
    assert state.share == pytest.approx(0.125)
    assert (state.minute.capacity, state.hour.capacity) == (200, 500)  # the deployment's
    spend(quota, 0.0, 50)
    assert quota.wait_s(0.0) == pytest.approx(60.0)


def test_a_replica_without_partitions_keeps_a_call_a_minute_and_is_not_stuck_given_some() -> None:
    quota = Quota(QuotaConfig(per_minute=240, per_hour=5000))
    quota.assigned(held=0, partitions=6)
    state = quota.state(0.0)
    assert (state.minute.limit, state.hour.limit) == (1, 60)
    spend(quota, 0.0)
    assert quota.wait_s(1.0) == pytest.approx(59.0)  # one call a minute: the account's reads
    quota.assigned(held=2, partitions=6)  # a rebalance gives it two of the six
    assert quota.state(1.0).minute.limit == 80
    assert quota.wait_s(1.0) == pytest.approx(0.74, abs=0.01)  # at 80 a minute now


@pytest.mark.parametrize(
    ("per_minute", "calls", "sent_at"),
    [
        # a new replica: the first call at once, then one every 60/per_minute seconds
        (240, 5, [0.0, 0.25, 0.5, 0.75, 1.0]),
        (60, 3, [0.0, 1.0, 2.0]),
        (20, 3, [0.0, 3.0, 6.0]),
    ],
)
def test_a_new_replica_starts_gently_its_calls_spaced_at_the_minutes_rate(
    per_minute, calls, sent_at
) -> None:
    quota = Quota(QuotaConfig(per_minute=per_minute, per_hour=10_000), now=0.0)
    now, times = 0.0, []
    for _ in range(calls):
        wait = quota.wait_s(now)
        assert wait is not None
        now += wait
        times.append(now)
        quota.answered(now, quota.sent(now))
    assert times == pytest.approx(sent_at)


def test_a_quiet_replica_may_send_a_few_seconds_worth_at_once_then_they_are_spaced() -> None:
    quota = quiet(QuotaConfig(per_minute=240, per_hour=10_000, burst_s=3.0))
    spend(quota, 0.0, 12)  # 3 s at 4 a second
    assert quota.wait_s(0.0) == pytest.approx(0.25)


def test_a_429_pauses_everything_until_retry_after_then_one_probe_goes_alone() -> None:
    quota = quiet(QuotaConfig(per_minute=100, per_hour=1000, burst_s=60))
    spend(quota, 0.0, 10)
    quota.answered(50.0, quota.sent(50.0), 429, retry_after_s=20.0)
    assert quota.wait_s(51.0) == pytest.approx(19.0)
    state = quota.state(51.0)
    assert (state.rate_limited, state.incidents, state.probing) == (1, 1, False)
    assert state.minute.limit == 10  # what fitted before the refusal
    assert quota.wait_s(70.0) == 0
    probe = quota.sent(70.0)
    assert quota.state(70.0).probing
    assert quota.wait_s(70.0) is None  # everyone else waits for the probe's answer
    assert quota.wait_s(80.0) is None
    quota.answered(70.5, probe, 200)
    assert not quota.state(70.5).probing
    # The pause over, calls resume at the rate (10 a minute), not as a burst of all that waited.
    assert quota.wait_s(70.5) == pytest.approx(6.0)


def test_a_probe_met_by_another_429_pauses_again_longer_and_the_lesson_stands() -> None:
    config = QuotaConfig(per_minute=100, per_hour=1000, burst_s=60, backoff=Backoff(5.0, 120.0))
    quota = quiet(config)
    spend(quota, 0.0, 30)
    quota.answered(0.0, quota.sent(0.0), 429)
    assert quota.state(0.0).paused_for_s == 5.0
    assert quota.state(0.0).minute.limit == 27  # what fitted, less a tenth
    probe = quota.sent(5.0)
    quota.answered(5.0, probe, 429)
    state = quota.state(5.0)
    assert (state.paused_for_s, state.minute.limit) == (10.0, 27)
    assert (state.rate_limited, state.incidents) == (2, 1)


def test_a_probe_refused_again_backs_off_even_when_retry_after_says_a_place_frees_sooner() -> None:
    # Another integration that asks often wins each place the server frees: racing it for every
    # one would cost a 429 a second.
    config = QuotaConfig(per_minute=100, per_hour=1000, burst_s=60, backoff=Backoff(5.0, 120.0))
    quota = quiet(config)
    spend(quota, 0.0, 30)
    quota.answered(0.0, quota.sent(0.0), 429, retry_after_s=0.5)
    assert quota.state(0.0).paused_for_s == 0.5  # the first: as the server says
    pauses, now = [], 0.5
    for _ in range(3):
        quota.answered(now, quota.sent(now), 429, retry_after_s=0.5)
        pauses.append(quota.state(now).paused_for_s)
        now += pauses[-1]
    assert pauses == [5.0, 10.0, 20.0]
    quota.answered(now, quota.sent(now), 200)  # the probe went through: the streak is over
    quota.answered(now + 1, quota.sent(now + 1), 429, retry_after_s=0.5)
    assert quota.state(now + 1).paused_for_s == 0.5


def test_a_probe_without_an_answer_says_nothing_and_the_next_call_probes_again() -> None:
    quota = quiet(QuotaConfig(per_minute=100, per_hour=1000))
    quota.answered(0.0, quota.sent(0.0), 429, retry_after_s=1.0)
    quota.answered(1.0, quota.sent(1.0), None)  # a dropped connection
    assert quota.state(1.0).probing
    quota.sent(2.0)
    assert quota.wait_s(2.0) is None


def test_429s_of_calls_already_in_flight_are_one_incident_and_their_successes_fitted() -> None:
    quota = quiet(QuotaConfig(per_minute=100, per_hour=1000, burst_s=60))
    spend(quota, 0.0, 20)
    tickets = [quota.sent(0.0) for _ in range(8)]
    quota.answered(0.1, tickets[0], 429, retry_after_s=5.0)
    assert quota.state(0.1).minute.limit == 18  # 20 fitted, less a tenth
    for ticket in tickets[1:6]:
        quota.answered(0.2, ticket, 429, retry_after_s=5.0)
    for ticket in tickets[6:]:
        quota.answered(0.3, ticket, 200)  # they were accepted after all: 22 fitted
    state = quota.state(1.0)
    assert (state.rate_limited, state.incidents, state.minute.limit) == (6, 1, 19)
    assert state.paused_for_s == pytest.approx(4.2)


def test_a_longer_retry_after_within_the_incident_extends_the_pause() -> None:
    quota = quiet(QuotaConfig(per_minute=100, per_hour=1000))
    first, second = quota.sent(0.0), quota.sent(0.0)
    quota.answered(0.0, first, 429, retry_after_s=5.0)
    quota.answered(1.0, second, 429, retry_after_s=30.0)
    assert quota.state(1.0).paused_for_s == pytest.approx(30.0)


def test_the_capacity_learned_from_a_429_holds_then_regrows_and_each_incident_holds_longer() -> (
    None
):
    quota = quiet(QuotaConfig(per_minute=300, per_hour=5000, burst_s=60))
    spend(quota, 0.0, 60)
    quota.answered(0.0, quota.sent(0.0), 429, retry_after_s=60.0)
    limits = {t: quota.state(t).minute.limit for t in (59.0, 119.0, 120.0, 180.0, 240.0)}
    # 60 fitted, less a tenth; paused to 60, held a minute, then +30 (a tenth of the plan) a
    # minute
    assert limits == {59.0: 54, 119.0: 54, 120.0: 84, 180.0: 114, 240.0: 144}
    # Hitting the ceiling again: the lesson is relearned, and held twice as long.
    spend(quota, 240.0)  # the probe the pause ended with
    now = 260.0
    spend(quota, now, 29)
    quota.answered(now, quota.sent(now), 429, retry_after_s=1.0)
    assert quota.state(now).minute.limit == 30  # 30 fitted, less a tenth is the floor
    assert quota.state(now + 1 + 119).minute.limit == 30  # held for two minutes…
    assert quota.state(now + 1 + 120).minute.limit == 60  # …then regrowing
    assert quota.state(now).incidents == 2


def test_a_new_replica_learns_too_but_never_less_than_a_tenth_of_the_plan() -> None:
    # A server that refuses for another reason than the quota (a proxy, a fault) must not
    # bring the service to a crawl; figures that far off the account are an operator's to fix.
    quota = Quota(QuotaConfig(per_minute=600, per_hour=5000, burst_s=60), now=0.0)
    quota.answered(0.0, quota.sent(0.0), 200)
    quota.answered(10.0, quota.sent(10.0), 429, retry_after_s=5.0)
    state = quota.state(10.0)
    assert (state.paused_for_s, state.incidents, state.minute.limit) == (5.0, 1, 60)
    probe = quota.sent(15.0)
    assert quota.wait_s(15.0) is None
    quota.answered(15.0, probe, 200)
    assert quota.wait_s(16.0) == 0


def test_the_lesson_is_the_deployments_and_moves_with_the_partitions() -> None:
    quota = quiet(QuotaConfig(per_minute=300, per_hour=5000, burst_s=60))
    quota.assigned(held=2, partitions=6)
    spend(quota, 0.0, 20)
    quota.answered(0.0, quota.sent(0.0), 429, retry_after_s=1.0)
    state = quota.state(1.0)
    # 20 fitted at a third: 60 for the deployment, less a tenth
    assert (state.minute.capacity, state.minute.limit) == (54, 18)
    quota.assigned(held=3, partitions=6)  # a replica died: half the partitions now
    state = quota.state(1.0)
    assert (state.minute.capacity, state.minute.limit) == (54, 27)


def test_without_retry_after_the_pause_doubles_per_consecutive_429_up_to_the_cap() -> None:
    quota = quiet(QuotaConfig(per_minute=100, per_hour=1000, backoff=Backoff(5.0, 15.0)))
    pauses = []
    now = 0.0
    for _ in range(4):
        quota.answered(now, quota.sent(now), 429)
        pauses.append(quota.state(now).paused_for_s)
        now += pauses[-1]
    assert pauses == [5.0, 10.0, 15.0, 15.0]
    quota.answered(now, quota.sent(now), 200)  # an answer that is not a 429 ends the streak
    quota.answered(now, quota.sent(now), 429)
    assert quota.state(now).paused_for_s == 5.0


def test_an_hours_429_teaches_the_hour() -> None:
    quota = quiet(QuotaConfig(per_minute=400, per_hour=1000, burst_s=60))
    spend(quota, 0.0, 150)
    quota.answered(0.0, quota.sent(0.0), 429, retry_after_s=1800.0)
    state = quota.state(0.0)
    assert (state.minute.limit, state.hour.limit) == (400, 135)
    assert state.factor == pytest.approx(0.135)


def test_the_servers_remaining_count_tightens_the_hour_window() -> None:
    quota = windows_only(per_minute=400, per_hour=1000)
    spend(quota, 0.0, 10)
    quota.answered(0.0, quota.sent(0.0), 200, remaining=5, total=1000)
    state = quota.state(0.0)
    assert (state.hour.used, state.hour.others, state.hour.remaining) == (11, 984, 5)
    spend(quota, 0.0, 5)
    assert quota.wait_s(0.0) == pytest.approx(3600.0)


def test_a_remaining_count_is_shared_like_the_quota() -> None:
    quota = windows_only(per_minute=400, per_hour=1000, share=0.5)
    quota.server_remaining(0.0, remaining=900, total=None)
    assert quota.state(0.0).hour.remaining == 450  # half of what the account has left


def test_the_servers_remaining_count_is_split_like_the_partitions() -> None:
    quota = windows_only(per_minute=400, per_hour=1000)
    quota.assigned(held=1, partitions=4)
    quota.server_remaining(0.0, remaining=100, total=1000)
    assert quota.state(0.0).hour.remaining == 25


def test_a_remaining_count_of_the_minute_window_goes_to_the_minute_window() -> None:
    quota = windows_only(per_minute=400, per_hour=1000)
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
    quota = Quota(QuotaConfig(per_minute=limit, per_hour=10_000, burst_s=60), now=-HOUR)
    now = 0.0
    sent_at: list[float] = []
    for gap, _ in steps:
        now += gap
        wait = quota.wait_s(now)
        assert wait is not None  # nothing stays in flight here
        now += wait
        assert quota.wait_s(now) == 0
        quota.answered(now, quota.sent(now))
        sent_at.append(now)
    for t in sent_at:
        # A nanosecond's tolerance: the model's sums of floats, not its rule, round there.
        assert sum(1 for s in sent_at if t <= s < t + 60.0 - 1e-6) <= limit


def test_an_answer_without_its_ticket_is_taken_for_the_oldest_call_in_flight() -> None:
    quota = quiet(QuotaConfig(per_minute=100, per_hour=1000))
    first, second = quota.sent(0.0), quota.sent(0.0)
    quota.answered(1.0, None, 429, retry_after_s=1.0)  # the first one's 429
    assert quota.state(1.0).paused_for_s == 1.0
    quota.answered(1.5, second, 429)  # in flight at the 429, no Retry-After: the same incident
    state = quota.state(1.5)
    assert (state.rate_limited, state.incidents, state.paused_for_s) == (2, 1, 0.5)
    assert first < second


def test_a_replica_without_partitions_learns_nothing_from_a_429() -> None:
    quota = quiet(QuotaConfig(per_minute=600, per_hour=5000))
    quota.assigned(held=0, partitions=6)
    first, second = quota.sent(0.0), quota.sent(0.0)
    quota.answered(0.0, first, 429, retry_after_s=1.0)
    quota.answered(0.1, second, 200)  # accepted after all: still nothing to learn
    assert quota.state(0.1).minute.capacity == 600


def test_incidents_more_than_an_hour_ago_no_longer_lengthen_the_hold() -> None:
    quota = quiet(QuotaConfig(per_minute=300, per_hour=50_000, burst_s=60))

    def hit_the_ceiling(at: float) -> None:
        spend(quota, at)  # the probe after the last pause (or just a call)
        spend(quota, at + 10, 29)
        quota.answered(at + 10, quota.sent(at + 10), 429, retry_after_s=1.0)

    hit_the_ceiling(0.0)
    hit_the_ceiling(600.0)  # the second this hour: held two minutes
    assert quota.state(611.0 + 119).minute.limit == 30
    assert quota.state(611.0 + 120).minute.limit == 60
    hit_the_ceiling(HOUR + 10)  # the first has left the hour: two minutes again, not four
    assert quota.state(HOUR + 21 + 119).minute.limit == 30
    assert quota.state(HOUR + 21 + 120).minute.limit == 60
    assert quota.state(HOUR + 21).incidents == 3
