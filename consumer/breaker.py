"""A circuit breaker over recent Freshsales calls: pure state, the clock passed in.

When most recent calls failed transiently (an outage, not one bad event), the breaker opens:
fetching pauses and deliveries wait for the cool-down instead of hammering a sick API and
burning the quota. After the cool-down one attempt is let through (half-open); its success closes
the breaker, its failure opens it again.
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
    opened_at: float | None = None
    _recent: deque[bool] = field(default_factory=deque, repr=False)
    _probing: bool = field(default=False, repr=False)

    def record(self, ok: bool, now: float) -> None:
        if self.opened_at is not None:
            if ok:
                self.opened_at = None
                self._recent.clear()
            elif self._probing:
                self.opened_at = now
            self._probing = False
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
        if remaining > 0 or self._probing:
            return max(remaining, 0.0) or self.cooldown_s
        self._probing = True
        return 0.0

    def is_open(self) -> bool:
        return self.opened_at is not None
