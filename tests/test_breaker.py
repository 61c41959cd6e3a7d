"""The circuit breaker: opens when most recent calls fail, probes after a cool-down."""

from __future__ import annotations

from consumer.engine.breaker import Breaker


def test_occasional_failures_keep_it_closed() -> None:
    breaker = Breaker(window=10, min_calls=5)
    for n in range(100):
        breaker.record(n % 5 != 0, now=n)  # 20% failures
    assert not breaker.is_open()
    assert breaker.wait_s(100) == 0.0


def test_it_opens_when_most_recent_calls_fail() -> None:
    breaker = Breaker(window=10, min_calls=5, cooldown_s=30)
    for n in range(4):
        breaker.record(False, now=n)
    assert not breaker.is_open()  # too few calls to judge
    breaker.record(False, now=5)
    assert breaker.is_open()
    assert breaker.wait_s(10) == 25.0


def test_after_the_cool_down_one_probe_goes_through() -> None:
    breaker = Breaker(window=10, min_calls=5, cooldown_s=30)
    for _ in range(5):
        breaker.record(False, now=0)
    assert breaker.wait_s(31) == 0.0  # the probe
    assert breaker.wait_s(31) == 1.0  # everyone else looks again soon for its answer
    breaker.record(True, now=32)
    assert not breaker.is_open()
    assert breaker.wait_s(32) == 0.0


def test_a_failed_probe_opens_it_again() -> None:
    breaker = Breaker(window=10, min_calls=5, cooldown_s=30)
    for _ in range(5):
        breaker.record(False, now=0)
    assert breaker.wait_s(31) == 0.0
    breaker.record(False, now=33)
    assert breaker.is_open()
    assert breaker.wait_s(40) == 23.0


def test_late_failures_of_calls_started_before_opening_do_not_extend_it() -> None:
    breaker = Breaker(window=10, min_calls=5, cooldown_s=30)
    for _ in range(5):
        breaker.record(False, now=0)
    breaker.record(False, now=20)  # not the probe
    assert breaker.wait_s(31) == 0.0


def test_the_others_follow_a_successful_probe_within_a_poll_not_a_cool_down() -> None:
    breaker = Breaker(window=10, min_calls=5, cooldown_s=30, probe_poll_s=0.5)
    for _ in range(5):
        breaker.record(False, now=0)
    assert breaker.wait_s(30) == 0.0  # the probe
    assert breaker.wait_s(30.1) == 0.5
    breaker.record(True, now=30.2)
    assert breaker.wait_s(30.6) == 0.0


def test_a_probe_that_never_reports_is_replaced_so_delivery_cannot_stall_for_good() -> None:
    # The probe's event needed no call, met a 429 or was abandoned: no record() ever comes.
    breaker = Breaker(window=10, min_calls=5, cooldown_s=30, probe_timeout_s=20)
    for _ in range(5):
        breaker.record(False, now=0)
    assert breaker.wait_s(30) == 0.0  # the probe, lost
    assert breaker.wait_s(49.5) == 0.5  # not yet given up on
    assert breaker.wait_s(50) == 0.0  # a new probe
    assert breaker.wait_s(50) == 1.0
    breaker.record(True, now=51)
    assert not breaker.is_open()
