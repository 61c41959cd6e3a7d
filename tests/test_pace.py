"""Pacing: a place every 1/rate seconds, a burst after a quiet spell, never more than the rate."""

from __future__ import annotations

import math

import pytest

from consumer.freshsales.pace import Pace

RATE = 2.0  # calls a second: a burst of 12 at the default six seconds


def test_a_fresh_process_may_send_a_burst_then_one_every_half_second() -> None:
    pace = Pace()
    for _ in range(12):
        assert pace.wait_s(0.0, RATE) == 0
        pace.spend(0.0, RATE)
    assert pace.wait_s(0.0, RATE) == pytest.approx(0.5)
    assert pace.wait_s(0.25, RATE) == pytest.approx(0.25)
    assert pace.wait_s(0.5, RATE) == 0


def test_a_quiet_spell_refills_the_burst_but_never_beyond_it() -> None:
    pace = Pace(burst_s=2.0)
    for _ in range(4):
        pace.spend(0.0, RATE)
    assert pace.wait_s(0.0, RATE) > 0
    assert pace.wait_s(3600.0, RATE) == 0
    for _ in range(4):
        pace.spend(3600.0, RATE)
    assert pace.wait_s(3600.0, RATE) > 0  # four at most, however long the quiet


def test_a_slow_quota_lets_a_call_through_at_once_then_one_every_few_seconds() -> None:
    pace = Pace()
    hour_bound = 1000 / 3600  # a Growth plan's hour: one call every 3.6 s
    assert pace.burst(hour_bound) == pytest.approx(1000 / 600)  # six seconds' worth
    assert pace.wait_s(0.0, hour_bound) == 0
    pace.spend(0.0, hour_bound)
    assert pace.wait_s(0.0, hour_bound) == pytest.approx(1.2)  # the rest of the burst
    pace.spend(1.2, hour_bound)
    assert pace.wait_s(1.2, hour_bound) == pytest.approx(3.6)
    assert Pace(burst_s=0.1).burst(hour_bound) == 1  # always at least one call


def test_no_rate_means_no_call() -> None:
    assert Pace().wait_s(0.0, 0.0) == math.inf
