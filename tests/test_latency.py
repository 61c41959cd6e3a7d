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
    assert len(buckets) == len(BOUNDS) + 1
