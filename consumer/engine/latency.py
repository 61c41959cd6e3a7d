"""Delivery latency as fixed buckets: cheap to record per event, exported as a histogram."""

from __future__ import annotations

import bisect
from typing import Final

# Seconds, from fetch to finish. The quota makes minutes (and hours, with a backlog) normal.
BOUNDS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class Latency:
    def __init__(self) -> None:
        self.counts = [0] * (len(BOUNDS) + 1)  # the last: above every bound
        self.total_s = 0.0
        self.longest_s = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BOUNDS, seconds)] += 1
        self.total_s += seconds
        self.longest_s = max(self.longest_s, seconds)

    @property
    def count(self) -> int:
        return sum(self.counts)

    @property
    def average_s(self) -> float:
        """0 before the first observation."""
        count = self.count
        return self.total_s / count if count else 0.0

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus buckets: ``le`` bound and how many observations are at or below it."""
        buckets: list[tuple[str, int]] = []
        running = 0
        for bound, count in zip((*map(str, BOUNDS), "+Inf"), self.counts, strict=True):
            running += count
            buckets.append((bound, running))
        return buckets
