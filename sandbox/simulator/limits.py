"""Sliding per-minute and per-hour request windows of one account (docs/simulator.md, "What it
enforces").

Time comes from the simulator's injected clock, so tests move it instead of sleeping.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    retry_after: int | None  # None: admitted
    total: int | None  # for X-RateLimit-Total; None when no limit applies
    remaining: int | None


class _Window:
    def __init__(self, limit: int, span: float) -> None:
        self.limit = limit
        self.span = span
        self.stamps: deque[float] = deque()

    def used(self, now: float) -> int:
        while self.stamps and self.stamps[0] <= now - self.span:
            self.stamps.popleft()
        return len(self.stamps)

    def wait(self, now: float) -> float:
        """Seconds until a slot frees (0 when one is free)."""
        if not self.limit or self.used(now) < self.limit:
            return 0.0
        return self.stamps[-self.limit] + self.span - now


class RateWindows:
    def __init__(self, per_minute: int, per_hour: int) -> None:
        self._windows = [w for w in (_Window(per_minute, 60), _Window(per_hour, 3600)) if w.limit]
        # The headers report the tighter budget a client plans by: the hour when there is one.
        self._reported = self._windows[-1] if self._windows else None

    def admit(self, now: float) -> Verdict:
        """Charge one request, or refuse it without charging (a 429 costs nothing)."""
        wait = max((w.wait(now) for w in self._windows), default=0.0)
        if wait > 0:
            return Verdict(max(1, math.ceil(wait)), *self._report(now))
        for window in self._windows:
            window.stamps.append(now)
        return Verdict(None, *self._report(now))

    def _report(self, now: float) -> tuple[int | None, int | None]:
        window = self._reported
        if window is None:
            return None, None
        return window.limit, max(0, window.limit - window.used(now))
