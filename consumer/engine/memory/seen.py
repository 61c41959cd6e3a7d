"""MessageIds of delivered track and page events, remembered for a window.

An activity is a plain create: sent twice, it shows twice on the person's timeline. Segment
libraries retry, producers resend, and a crash re-reads what was delivered but not yet committed,
so the same messageId can arrive again. Identifies need none of this: an upsert is idempotent.

Memory is bounded twice: entries older than the window go, and past ``capacity`` the oldest go.
Times are wall-clock seconds, because entries come back from the ledger after a restart.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class SeenMessages:
    def __init__(
        self,
        window_s: float,
        capacity: int = 500_000,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window_s = window_s
        self._capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.window_s > 0 and self._capacity > 0

    def __contains__(self, message_id: object) -> bool:
        if not isinstance(message_id, str) or not self.enabled:
            return False
        at = self._seen.get(message_id)
        return at is not None and self._clock() - at <= self.window_s

    def add(self, message_id: str, at: float | None = None) -> None:
        """Remember a delivery made at ``at`` (now when None); too old to matter is ignored."""
        if not self.enabled:
            return
        now = self._clock()
        at = now if at is None else at
        if now - at > self.window_s:
            return
        self._seen[message_id] = max(at, self._seen.get(message_id, at))
        self._seen.move_to_end(message_id)
        self._expire(now)

    def _expire(self, now: float) -> None:
        horizon = now - self.window_s
        while self._seen:
            oldest_id, oldest_at = next(iter(self._seen.items()))
            if oldest_at > horizon and len(self._seen) <= self._capacity:
                break
            del self._seen[oldest_id]

    def __len__(self) -> int:
        return len(self._seen)
