"""Delivery latency buckets, as Prometheus reads them: cumulative, ending at +Inf."""

from __future__ import annotations

import pytest

from consumer.engine.latency import BOUNDS, Latency


def test_observations_fall_in_the_first_bucket_that_holds_them() -> None:
    latency = Latency()
    for seconds in (0.001, 0.01, 0.02, 7200.0):
        latency.observe(seconds)
    buckets = dict(latency.cumulative())
    assert buckets["0.01"] == 2  # a bound holds values equal to it ("le")
    assert buckets["0.05"] == 3
    assert buckets["3600.0"] == 3
    assert buckets["+Inf"] == latency.count == 4
    assert latency.total_s == pytest.approx(7200.031)
    assert latency.longest_s == 7200.0
    assert latency.average_s == pytest.approx(7200.031 / 4)
    assert len(buckets) == len(BOUNDS) + 1


def test_before_any_observation_the_longest_and_the_average_are_0() -> None:
    assert (Latency().longest_s, Latency().average_s) == (0.0, 0.0)
