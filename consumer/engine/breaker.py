"""A circuit breaker over recent Freshsales calls: pure state, the clock passed in.

When most recent calls failed transiently (an outage, not one bad event), the breaker opens:
fetching pauses and deliveries wait for the cool-down instead of hammering a sick API and
burning the quota. After the cool-down one attempt is let through (half-open); its success closes
the breaker, its failure opens it again.

While the probe is out the others look again every ``probe_poll_s``, so they follow a successful
probe within about a second instead of sleeping a whole cool-down. A probe that never reports —
its event needed no call, met a 429 (which says nothing about Freshsales' health), or was
abandoned in a rebalance — is replaced after ``probe_timeout_s``: otherwise the breaker would stay
open, and delivery stopped, for good.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class Breaker:
    window: int = 20
    min_calls: int = 10
    failure_ratio: float = 0.5
    cooldown_s: float = 15.0
    probe_poll_s: float = 1.0
    probe_timeout_s: float = 15.0
    opened_at: float | None = None
    _recent: deque[bool] = field(default_factory=deque, repr=False)
    _probe_at: float | None = field(default=None, repr=False)

    def record(self, ok: bool, now: float) -> None:
        if self.opened_at is not None:
            if ok:
                self.opened_at = None
                self._recent.clear()
            elif self._probe_at is not None:
                self.opened_at = now
            self._probe_at = None
            return
        self._recent.append(ok)
        if len(self._recent) > self.window:
            self._recent.popleft()
        failures = self._recent.count(False)
        if len(self._recent) >= self.min_calls and failures > self.failure_ratio * len(
            self._recent
        ):
            self.opened_at = now

    def wait_s(self, now: float) -> float:
        """How long an attempt must wait now (0: go ahead). Lets one probe through when cool."""
        if self.opened_at is None:
            return 0.0
        remaining = self.opened_at + self.cooldown_s - now
        if remaining > 0:
            return remaining
        probe_at = self._probe_at
        if probe_at is not None and now - probe_at < self.probe_timeout_s:
            return min(self.probe_poll_s, probe_at + self.probe_timeout_s - now)
        self._probe_at = now
        return 0.0

    def is_open(self) -> bool:
        return self.opened_at is not None
