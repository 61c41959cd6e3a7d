"""One sliding window of the quota: our calls in it, the server's reports of others', and what
a 429 taught about it (``consumer.freshsales.quota`` reads them; nothing here decides)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from consumer.freshsales.capacity import Learned, WindowName

_TOLERANCE_S = 1e-9


class Window:
    def __init__(self, name: WindowName, limit: int, length_s: float) -> None:
        self.name: WindowName = name
        self.limit = limit
        self.length_s = length_s
        self.ours: deque[float] = deque()  # answer times of our calls, ascending
        self.refused: deque[float] = deque()  # …of those answered 429
        self.others: deque[float] = deque()  # calls the server says were made, not by us
        self.learned: Learned | None = None

    def expire(self, now: float) -> None:
        # The same sum as in ``wait_s``, with the same tolerance: a place that ``wait_s`` says is
        # free now must have left the window now, float rounding or not.
        for stamps in (self.ours, self.refused, self.others):
            while stamps and stamps[0] + self.length_s <= now + _TOLERANCE_S:
                stamps.popleft()

    def used(self, in_flight: int) -> int:
        return len(self.ours) + len(self.others) + in_flight

    def accepted(self) -> int:
        """Our calls in the window that the server took (what fitted)."""
        return len(self.ours) - len(self.refused)

    def wait_s(self, capacity: int, in_flight: int, now: float) -> float | None:
        """Seconds until one more call fits; None when only an answer can free a place."""
        excess = self.used(in_flight) - capacity + 1
        if excess <= 0:
            return 0.0
        stamps = sorted((*self.ours, *self.others)) if self.others else self.ours
        if excess > len(stamps):
            return None
        wait = stamps[excess - 1] + self.length_s - now
        return wait if wait > _TOLERANCE_S else 0.0


@dataclass(frozen=True, slots=True)
class WindowState:
    name: str
    limit: int
    """What this replica may use in the window now (its part of the believed capacity)."""
    used: int
    """Our calls in the window, answered or in flight."""
    others: int
    """Calls the server reported that we did not make."""
    capacity: int = 0
    """What the deployment believes the account leaves it in this window."""

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used - self.others)
