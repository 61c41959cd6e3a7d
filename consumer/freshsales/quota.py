"""The account's API quota as a pure model: call times in, how long to wait out.

Freshsales counts every call of every integration against one account, per hour and per minute
(docs/operations.md), so the budget is two sliding windows. A call occupies its window from the
moment it is sent until one window length after its *answer*: the server counted it somewhere in
between, and sliding windows kept this way are at least as strict as the server's, whether the
server counts in sliding or in fixed windows.

A 429 means somebody else is spending the same quota (or a restart forgot our own recent calls):
the whole budget pauses until Retry-After (or a growing backoff), and the usable share of both
windows is cut, then recovers step by step while no 429 follows. ``X-RateLimit-Remaining``, when
the server sends it, tightens the budget before a 429 would: calls we did not make are counted
as if made just now.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Final

from consumer.backoff import Backoff

MINUTE: Final = 60.0
HOUR: Final = 3600.0


@dataclass(frozen=True, slots=True)
class QuotaConfig:
    per_minute: int
    per_hour: int
    share: float = 1.0
    """This process' fraction of the account's quota (several replicas, other integrations)."""
    cut: float = 0.5
    """After a 429, the usable share of each window is multiplied by this…"""
    floor: float = 0.1
    """…but never below this fraction…"""
    recover_step: float = 0.1
    recover_every_s: float = 30.0
    """…and grows back by ``recover_step`` every ``recover_every_s`` without another 429."""
    backoff: Backoff = Backoff(5.0, 120.0)
    """The pause after a 429 without Retry-After, by the number of 429s in a row."""

    def __post_init__(self) -> None:
        if self.per_minute < 1 or self.per_hour < 1:
            raise ValueError("per_minute and per_hour must be at least 1")
        if not 0 < self.share <= 1:
            raise ValueError("share must be within (0, 1]")


class _Window:
    def __init__(self, name: str, limit: int, length_s: float) -> None:
        self.name = name
        self.limit = limit
        self.length_s = length_s
        self.ours: deque[float] = deque()  # answer times of our calls, ascending
        self.others: deque[float] = deque()  # calls the server says were made, not by us

    def expire(self, now: float) -> None:
        horizon = now - self.length_s
        for stamps in (self.ours, self.others):
            while stamps and stamps[0] <= horizon:
                stamps.popleft()

    def used(self, in_flight: int) -> int:
        return len(self.ours) + len(self.others) + in_flight

    def wait_s(self, capacity: int, in_flight: int, now: float) -> float | None:
        """Seconds until one more call fits; None when only an answer can free a place."""
        excess = self.used(in_flight) - capacity + 1
        if excess <= 0:
            return 0.0
        stamps = sorted((*self.ours, *self.others)) if self.others else self.ours
        if excess > len(stamps):
            return None
        return max(0.0, stamps[excess - 1] + self.length_s - now)


@dataclass(frozen=True, slots=True)
class WindowState:
    name: str
    limit: int
    """What this process may use in the window now (plan, times share, times the current cut)."""
    used: int
    """Our calls in the window, answered or in flight."""
    others: int
    """Calls the server reported that we did not make."""

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used - self.others)


@dataclass(frozen=True, slots=True)
class QuotaState:
    minute: WindowState
    hour: WindowState
    factor: float
    paused_for_s: float
    rate_limited: int


class Quota:
    def __init__(self, config: QuotaConfig) -> None:
        self.config = config
        self._windows = (
            _Window("minute", config.per_minute, MINUTE),
            _Window("hour", config.per_hour, HOUR),
        )
        self._in_flight = 0
        self._paused_until = -math.inf
        self._cut_to = 1.0
        self._cut_at = -math.inf
        self._consecutive_429 = 0
        self.rate_limited = 0

    def factor(self, now: float) -> float:
        """The fraction of this process' share usable now: 1 until a 429, then recovering."""
        c = self.config
        if self._cut_to >= 1.0:
            return 1.0
        steps = math.floor(max(0.0, now - self._cut_at) / c.recover_every_s)
        return min(1.0, self._cut_to + steps * c.recover_step)

    def capacity(self, window: _Window, now: float) -> int:
        return max(1, math.floor(window.limit * self.config.share * self.factor(now)))

    def wait_s(self, now: float, *, reserve: bool = False) -> float | None:
        """Seconds to wait before the next call may be sent (0: now). None: wait for an answer
        of a call in flight, which frees nothing by itself but dates the call's place. With
        ``reserve``, the call leaves each window's reserve free (see ``reserved``)."""
        longest = max(0.0, self._paused_until - now)
        for window in self._windows:
            window.expire(now)
            capacity = self.capacity(window, now)
            if reserve:
                capacity -= reserved(capacity)
            wait = window.wait_s(capacity, self._in_flight, now)
            if wait is None:
                return None
            longest = max(longest, wait)
        return longest

    def sent(self) -> None:
        self._in_flight += 1

    def answered(
        self, now: float, *, rate_limited: bool = False, retry_after_s: float | None = None
    ) -> None:
        """A call sent earlier ended (with any answer, or none: the server may have counted it)."""
        self._in_flight = max(0, self._in_flight - 1)
        for window in self._windows:
            window.ours.append(now)
        if not rate_limited:
            self._consecutive_429 = 0
            return
        self.rate_limited += 1
        if now < self._paused_until:
            # Calls sent before the first 429 of this pause answer 429 too: one incident, one
            # cut; only a longer Retry-After extends the pause.
            if retry_after_s is not None and now + retry_after_s > self._paused_until:
                self._paused_until = self._cut_at = now + retry_after_s
            return
        c = self.config
        self._consecutive_429 += 1
        if retry_after_s is None:
            retry_after_s = c.backoff.delay_s(self._consecutive_429)
        self._paused_until = max(self._paused_until, now + retry_after_s)
        # Cutting from the current (possibly recovering) level: a second 429 during recovery
        # means the first cut was not deep enough.
        self._cut_to = max(c.floor, self.factor(now) * c.cut)
        self._cut_at = self._paused_until

    def server_remaining(self, now: float, remaining: int, total: int | None) -> None:
        """``X-RateLimit-Remaining`` (and ``-Total`` when sent) from an answer."""
        window = self._reported_window(total)
        window.expire(now)
        ours_left = self.capacity(window, now) - window.used(self._in_flight)
        allowed = math.floor(max(0, remaining) * self.config.share)
        for _ in range(max(0, ours_left - allowed)):
            window.others.append(now)

    def _reported_window(self, total: int | None) -> _Window:
        minute, hour = self._windows
        # The header does not say which window it counts; a total equal to the minute's limit
        # is the minute's, anything else is taken as the hour's (the scarcer one).
        return minute if total is not None and total == minute.limit != hour.limit else hour

    def state(self, now: float) -> QuotaState:
        windows = []
        for window in self._windows:
            window.expire(now)
            windows.append(
                WindowState(
                    window.name,
                    self.capacity(window, now),
                    len(window.ours) + self._in_flight,
                    len(window.others),
                )
            )
        return QuotaState(
            windows[0],
            windows[1],
            self.factor(now),
            max(0.0, self._paused_until - now),
            self.rate_limited,
        )

    def calls_per_hour(self, now: float) -> float:
        """The sustained rate the budget allows now: what a backlog drains at."""
        minute, hour = self._windows
        return min(self.capacity(minute, now) * (HOUR / MINUTE), float(self.capacity(hour, now)))


RESERVE: Final = 0.05


def reserved(capacity: int) -> int:
    """Places of a window only a new person's calls may take: 5% of it (none in a window of
    fewer than 20). A backlog fills the windows as fast as they free up; without a reserve a new
    lead would wait for the oldest call to age out — up to the window's whole length."""
    return math.floor(capacity * RESERVE)


def drain_eta_s(backlog: int, calls_per_event: float, calls_per_hour: float) -> float | None:
    """How long the backlog takes at the quota's sustained rate; None when nothing is known."""
    if backlog <= 0:
        return 0.0
    if calls_per_hour <= 0 or calls_per_event < 0:
        return None
    return backlog * calls_per_event / calls_per_hour * HOUR
