"""Misbehaviour on demand: queued faults for the next requests, and seeded random ones.

Random faults come from one seeded RNG drawn once per eligible request, so a given seed and request
order always fail the same requests.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

RANDOM_STATUSES = (500, 502, 503)


@dataclass(frozen=True)
class Fault:
    status: int | None = None  # answer with this status and an errors-envelope body
    retry_after: str | None = None  # Retry-After header value sent with it
    drop: bool = False  # close the connection without answering
    delay_s: float = 0.0  # wait this long first (lets clients hit their timeouts)
    body: bytes | None = None  # raw body instead of the envelope (non-JSON, an HTML page…)
    content_type: str | None = None  # of ``body``; guessed from its first byte when None

    def __post_init__(self) -> None:
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"not an HTTP status: {self.status}")
        if self.delay_s < 0:
            raise ValueError("delay_s must be >= 0")


@dataclass
class _Queued:
    fault: Fault
    left: int


class FaultPlan:
    def __init__(self, seed: int, fail_rate: float, drop_rate: float) -> None:
        self._rng = random.Random(seed)
        self._fail_rate = fail_rate
        self._drop_rate = drop_rate
        self._queue: deque[_Queued] = deque()

    def inject(self, fault: Fault, times: int = 1) -> None:
        if times < 1:
            raise ValueError("times must be >= 1")
        self._queue.append(_Queued(fault, times))

    @property
    def pending(self) -> int:
        return sum(entry.left for entry in self._queue)

    def clear(self) -> int:
        """Forget the queued faults; how many requests they would still have hit."""
        left = self.pending
        self._queue.clear()
        return left

    def next(self) -> Fault | None:
        """The fault for the request now being served, if any: queued first, then random."""
        if self._queue:
            entry = self._queue[0]
            entry.left -= 1
            if not entry.left:
                self._queue.popleft()
            return entry.fault
        if not (self._fail_rate or self._drop_rate):
            return None
        draw = self._rng.random()
        if draw < self._drop_rate:
            return Fault(drop=True)
        if draw < self._drop_rate + self._fail_rate:
            return Fault(status=self._rng.choice(RANDOM_STATUSES))
        return None
