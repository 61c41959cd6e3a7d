"""Spreading calls over the window: a token bucket at the quota's sustained rate.

The windows alone would let a whole minute's quota go out in its first seconds and then make
everything wait for the rest of the minute — including a new lead that arrives meanwhile. Paced,
a place frees up every ``1 / rate`` seconds, and the turn order (``turns``) gives it to whoever
matters most: a new person waits for the next place, not for the next minute. The rate is the
quota's sustained one (``Quota.calls_per_hour``), so paced or not, as many calls go out per
window; after a quiet spell up to ``burst_s`` worth of them may go at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

BURST_S: Final = 6.0
"""How many seconds of the sustained rate may go out at once after a quiet spell."""


@dataclass
class Pace:
    burst_s: float = BURST_S
    _tokens: float = field(default=math.inf, repr=False)  # a fresh process starts with a burst
    _at: float | None = field(default=None, repr=False)

    def _refill(self, now: float, rate: float) -> None:
        burst = self.burst(rate)
        if self._at is None:
            self._tokens = burst
        else:
            self._tokens = min(burst, self._tokens + max(0.0, now - self._at) * rate)
        self._at = now

    def burst(self, rate: float) -> float:
        return max(1.0, rate * self.burst_s)

    def wait_s(self, now: float, rate: float) -> float:
        """Seconds until the next call may go at ``rate`` calls a second (0: now)."""
        if rate <= 0:
            return math.inf
        self._refill(now, rate)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / rate

    def spend(self, now: float, rate: float) -> None:
        """A call went out."""
        self._refill(now, rate)
        self._tokens -= 1
