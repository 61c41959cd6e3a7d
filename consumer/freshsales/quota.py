"""The account's API quota as a pure model: call times in, how long to wait out.

Freshsales counts every call of every integration against one account, per hour and per minute
(docs/operations.md), so the budget is two sliding windows. A call occupies its window from the
moment it is sent until one window length after its *answer*: the server counted it somewhere in
between, and sliding windows kept this way are at least as strict as the server's, whether the
server counts in sliding or in fixed windows.

What this replica may use of each window is its part of the deployment (``share``: its
partitions of the topic) times what the deployment believes the account leaves it: the plan's
figure times ``FRESHSALES_QUOTA_SHARE``, or less once a 429 taught otherwise (``capacity``).
Calls are spaced at the minute's rate (``pacing``). A 429 pauses every call until Retry-After
(or a growing backoff); the calls already in flight then are one incident, and the pause ends
with one probe call, the others waiting for its answer. ``X-RateLimit-Remaining``, when the
server sends it, tightens the windows before a 429 would: calls we did not make are counted as
if made just now.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from consumer.backoff import Backoff
from consumer.freshsales import capacity
from consumer.freshsales.capacity import Growth, WindowName
from consumer.freshsales.pacing import Spacing
from consumer.freshsales.reserve import backlog_wait_s
from consumer.freshsales.share import ALONE, Part, part_of
from consumer.freshsales.windows import Window, WindowState

MINUTE: Final = capacity.MINUTE
HOUR: Final = capacity.HOUR


@dataclass(frozen=True, slots=True)
class QuotaConfig:
    per_minute: int
    per_hour: int
    share: float = 1.0
    """The deployment's fraction of the account's quota (other integrations keep the rest);
    its replicas divide it by their partitions."""
    growth: Growth = field(default_factory=Growth)
    """How a capacity learned from a 429 grows back."""
    burst_s: float = 3.0
    """A quiet replica may send this long's worth of calls at once; otherwise they are spaced."""
    backoff: Backoff = Backoff(5.0, 120.0)
    """The pause after a 429 without Retry-After, by the number of 429s in a row."""

    def __post_init__(self) -> None:
        if self.per_minute < 1 or self.per_hour < 1:
            raise ValueError("per_minute and per_hour must be at least 1")
        if not 0 < self.share <= 1:
            raise ValueError("share must be within (0, 1]")


@dataclass(frozen=True, slots=True)
class QuotaState:
    minute: WindowState
    hour: WindowState
    factor: float
    """Believed capacity over the plan's share (1 until a 429 taught less), the lower window's."""
    paused_for_s: float
    rate_limited: int
    """429 answers."""
    share: float = 1.0
    """This replica's fraction of the account's quota now."""
    incidents: int = 0
    """429 incidents: the answers of calls in flight together count once."""
    probing: bool = False
    """A pause is over and one call is finding out whether the account has room again."""


@dataclass(slots=True)
class _Incident:
    last_ticket: int
    """Calls sent up to this one were in flight when it began: their 429s are this incident."""
    window: WindowName
    fraction: float
    """The replica's part when it began."""


class Quota:
    def __init__(self, config: QuotaConfig, now: float = 0.0) -> None:
        self.config = config
        self._windows = (
            Window("minute", config.per_minute, MINUTE),
            Window("hour", config.per_hour, HOUR),
        )
        self._spacing = Spacing(now, burst_s=config.burst_s)
        self._part: Part = ALONE
        self._tickets = 0
        self._in_flight: set[int] = set()
        self._paused_until = -math.inf
        self._incident: _Incident | None = None
        self._streak = 0  # 429s in a row: the backoff's attempt
        self._probe_due = False
        self._probe: int | None = None
        self._incidents_at: deque[float] = deque()
        self.rate_limited = 0
        self.incidents = 0

    # --- what may be used -----------------------------------------------------------------

    @property
    def share(self) -> float:
        """This replica's fraction of the account: the deployment's share times its part."""
        return self.config.share * self._part.fraction

    def believed(self, window: Window, now: float) -> float:
        plan = self._plan(window)
        calls = capacity.believed(plan, window.learned, now, self.config.growth)
        if calls >= plan:
            window.learned = None  # regrown: the plan's figure stands again
        return calls

    def capacity(self, window: Window, now: float) -> int:
        calls = math.floor(self._part.fraction * self.believed(window, now) + 1e-9)
        if self._part.held == 0:
            # No partitions, no deliveries; but the account is still re-read now and then: a
            # call a minute (within the plan's share), not one an hour.
            return max(
                calls, 1, min(round(window.length_s / MINUTE), math.floor(self._plan(window)))
            )
        return max(1, calls)

    def _plan(self, window: Window) -> float:
        return window.limit * self.config.share

    def factor(self, now: float) -> float:
        return min(self.believed(w, now) / self._plan(w) for w in self._windows)

    def wait_s(self, now: float, *, reserve: bool = False) -> float | None:
        """Seconds to wait before the next call may be sent (0: now). None: wait for an answer
        (of the probe, or of a call in flight whose place only its answer can date). With
        ``reserve`` the call is not a new person's, and leaves them each window's reserve
        (``consumer.freshsales.reserve``)."""
        if self._probe is not None:
            return None
        longest = max(0.0, self._paused_until - now)
        in_flight = len(self._in_flight)
        capacities = []
        for window in self._windows:
            window.expire(now)
            capacity = self.capacity(window, now)
            capacities.append(capacity)
            if reserve:
                wait = backlog_wait_s(window, capacity, in_flight, now)
            else:
                wait = window.wait_s(capacity, in_flight, now)
            if wait is None:
                return None
            longest = max(longest, wait)
        return max(longest, self._spacing.wait_s(now, capacities[0]))

    def _per_minute(self, now: float) -> int:
        return self.capacity(self._windows[0], now)

    def calls_per_hour(self, now: float) -> float:
        """The sustained rate the budget allows now: what a backlog drains at."""
        minute, hour = self._windows
        return min(self.capacity(minute, now) * (HOUR / MINUTE), float(self.capacity(hour, now)))

    # --- what happened ----------------------------------------------------------------------

    def assigned(self, held: int, partitions: int | None) -> None:
        """The group's assignment changed: this replica holds ``held`` of the topic's
        ``partitions``."""
        self._part = part_of(held, partitions, self._part)

    def sent(self, now: float) -> int:
        """A call goes out now; its ticket, for ``answered``."""
        self._tickets += 1
        ticket = self._tickets
        self._in_flight.add(ticket)
        self._spacing.spend(now, self._per_minute(now))
        if self._probe_due:
            self._probe_due, self._probe = False, ticket
        return ticket

    def answered(
        self,
        now: float,
        ticket: int | None = None,
        status: int | None = 200,
        *,
        retry_after_s: float | None = None,
        remaining: int | None = None,
        total: int | None = None,
    ) -> None:
        """A call sent earlier ended with ``status`` (None: no answer; the server may have
        counted it all the same), and what the answer said about the quota."""
        if ticket is None:
            ticket = min(self._in_flight, default=0)
        self._in_flight.discard(ticket)
        for window in self._windows:
            window.expire(now)
            window.ours.append(now)
        if status == 429:
            self._refused(now, ticket, retry_after_s, remaining, total)
        else:
            self._not_refused(now, ticket, status)
        if remaining is not None:
            self.server_remaining(now, remaining, total)

    def _not_refused(self, now: float, ticket: int, status: int | None) -> None:
        incident = self._incident
        before = incident is not None and ticket <= incident.last_ticket
        if status is not None and not before:
            self._streak = 0
        if incident is not None and before and status is not None:
            window = self._window(incident.window)
            if window.learned is not None:
                window.learned = capacity.fitted(
                    window.learned,
                    window.accepted(),
                    incident.fraction,
                    self._plan(window),
                    self.config.growth,
                )
        if ticket == self._probe:
            self._probe = None
            if status is None:
                self._probe_due = True  # no answer says nothing: the next call probes again
            else:
                self._spacing.restart(now, self._per_minute(now))

    def _refused(
        self,
        now: float,
        ticket: int,
        retry_after_s: float | None,
        remaining: int | None,
        total: int | None,
    ) -> None:
        self.rate_limited += 1
        for window in self._windows:
            window.refused.append(now)
        incident = self._incident
        if incident is not None and ticket <= incident.last_ticket:
            # In flight when the incident began: the same incident; only a longer Retry-After
            # extends the pause.
            if retry_after_s is not None:
                self._paused_until = max(self._paused_until, now + retry_after_s)
            return
        self._streak += 1
        if retry_after_s is None:
            retry_after_s = pause = self.config.backoff.delay_s(self._streak)
        elif self._streak > 1:
            # The probe refused again: a place the server frees goes to whoever asks first, and
            # another integration that asks often wins it. Back off, rather than lose that race
            # (and spend a 429) every time a place frees.
            pause = max(retry_after_s, self.config.backoff.delay_s(self._streak - 1))
        else:
            pause = retry_after_s
        self._paused_until = max(self._paused_until, now + pause)
        self._probe, self._probe_due = None, True
        name = capacity.refused_window(
            retry_after_s, remaining, self._reported(total) if total is not None else None
        )
        self._incident = _Incident(self._tickets, name, self._part.fraction)
        if self._streak > 1:
            return  # the probe found the account still full: the lesson stands, the pause grows
        self.incidents += 1
        self._incidents_at.append(now)
        while self._incidents_at[0] <= now - HOUR:
            self._incidents_at.popleft()
        window = self._window(name)
        grows_from = self._paused_until + capacity.hold_s(
            self.config.growth, len(self._incidents_at)
        )
        fit = window.accepted()
        plan = self._plan(window)
        learned = capacity.learn(fit, self._part.fraction, plan, grows_from, self.config.growth)
        if learned is not None:
            window.learned = learned

    def server_remaining(self, now: float, remaining: int, total: int | None) -> None:
        """``X-RateLimit-Remaining`` (and ``-Total`` when sent) from an answer."""
        window = self._window(self._reported(total))
        window.expire(now)
        ours_left = self.capacity(window, now) - window.used(len(self._in_flight))
        allowed = math.floor(max(0, remaining) * self.share)
        for _ in range(max(0, ours_left - allowed)):
            window.others.append(now)

    def _reported(self, total: int | None) -> WindowName:
        minute, hour = self._windows
        # The header does not say which window it counts; a total equal to the minute's limit
        # is the minute's, anything else is taken as the hour's (the scarcer one).
        return "minute" if total is not None and total == minute.limit != hour.limit else "hour"

    def _window(self, name: WindowName) -> Window:
        return self._windows[0] if name == "minute" else self._windows[1]

    def state(self, now: float) -> QuotaState:
        windows = []
        for window in self._windows:
            window.expire(now)
            windows.append(
                WindowState(
                    window.name,
                    self.capacity(window, now),
                    len(window.ours) + len(self._in_flight),
                    len(window.others),
                    math.floor(self.believed(window, now) + 1e-9),
                )
            )
        return QuotaState(
            windows[0],
            windows[1],
            self.factor(now),
            max(0.0, self._paused_until - now),
            self.rate_limited,
            self.share,
            self.incidents,
            self._probe is not None or (self._probe_due and now >= self._paused_until),
        )


def drain_eta_s(backlog: int, calls_per_event: float, calls_per_hour: float) -> float | None:
    """How long the backlog takes at the quota's sustained rate; None when nothing is known."""
    if backlog <= 0:
        return 0.0
    if calls_per_hour <= 0 or calls_per_event < 0:
        return None
    return backlog * calls_per_event / calls_per_hour * HOUR
