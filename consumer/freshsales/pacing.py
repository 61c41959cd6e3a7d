"""Spacing: calls go out at the minute's rate, not in bursts of a whole window.

The windows alone would let a replica spend its whole minute in the first second, and a sliding
window repeats that burst every minute. A burst is what collides with everybody else: the replica
that joins a group (or restarts) finds a window the others filled in one go, and a ceiling lower
than believed is met with every call in flight at once, each answered 429. Spaced calls keep
every window's calls spread over it, so that

- a replica whose part grows (it joined, or a dead member's partitions came to it) fills its
  window gradually, while the calls of the previous owner age out of the server's just as
  gradually: together they never exceed the quota;
- a ceiling is met by the one call that crossed it, plus the few in flight (the rate times the
  answer time), not by a burst.

A token bucket of ``burst_s`` worth of calls lets a quiet replica send a few at once; a new one
starts with a single token, so it starts gently.
"""

from __future__ import annotations

import math

from consumer.freshsales.capacity import MINUTE


class Spacing:
    def __init__(self, now: float, *, burst_s: float = 3.0) -> None:
        self._burst_s = burst_s
        self._tokens = 1.0
        self._at = now

    def _refill(self, now: float, per_minute: int) -> None:
        if now > self._at:
            self._tokens = min(
                self.depth(per_minute), self._tokens + (now - self._at) * per_minute / MINUTE
            )
            self._at = now

    def depth(self, per_minute: int) -> float:
        """How many calls may go at once after a quiet spell."""
        return float(max(1, math.ceil(per_minute * self._burst_s / MINUTE)))

    def wait_s(self, now: float, per_minute: int) -> float:
        """Seconds until the next call is due at ``per_minute`` calls a minute."""
        self._refill(now, per_minute)
        if self._tokens >= 1.0 - 1e-9:  # a token's worth, give or take the float arithmetic
            return 0.0
        return (1.0 - self._tokens) * MINUTE / per_minute

    def spend(self, now: float, per_minute: int) -> None:
        self._refill(now, per_minute)
        self._tokens -= 1.0

    def restart(self, now: float, per_minute: int) -> None:
        """After a pause, nothing saved up: the probe's success resumes at the rate, no burst."""
        self._refill(now, per_minute)
        self._tokens = min(self._tokens, 0.0)
