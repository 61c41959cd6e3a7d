"""Carries out ``consumer.freshsales.quota``: every Freshsales call waits here for its place in
the quota.

Waiting callers take turns by priority, then in arrival order: a new person's
call goes before the activities already waiting, and among equals a key that asked first sends
first, so nobody starves. A new person's calls may also use the reserve every window keeps
(``Quota.wait_s``): however long the backlog, a place is free for them within moments. A caller
waits only for the quota, never while holding a delivery slot: work that needs no call (a known
person, an unchanged upsert) passes meanwhile. After a 429's pause the first in line goes alone,
as the probe; the rest wait for its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import time
from collections.abc import Callable

from consumer.freshsales.quota import Quota, QuotaConfig, QuotaState

# Quota waits of the current task (one per user's queue): time spent waiting for the quota is
# not time spent failing, so the retry window does not count it.
_waited_here: contextvars.ContextVar[float] = contextvars.ContextVar("quota_waited", default=0.0)


def waited_in_task() -> float:
    """Seconds the current task has waited for the quota, in total."""
    return _waited_here.get()


# Set by the delivery of an event: true once nobody wants its calls any more (its partition went
# to another consumer while it queued for the quota). Its place goes to the next caller.
_abandoned: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar(
    "quota_abandoned", default=None
)


# Set by the delivery of an event: lower goes first (a new person's identify before activities).
URGENT = 0
"""A new person's calls."""
UNDER_WAY = 1
"""The later calls of a piece of work whose first call went out: work under way finishes before
more starts, so that each worker (and the person it holds) is free again soon."""
NORMAL = 2
_priority: contextvars.ContextVar[int] = contextvars.ContextVar("quota_priority", default=NORMAL)


def prioritized(priority: int) -> None:
    """Calls made from the current task take their turn at ``priority`` (lower first)."""
    _priority.set(priority)


def abandon_when(check: Callable[[], bool]) -> None:
    """Calls made from the current task give up their turn once ``check()`` is true."""
    _abandoned.set(check)


class Abandoned(Exception):
    """Raised by ``acquire`` instead of sending a call nobody wants: not an error of the call,
    so it stays outside the project's error tree; the delivery loop stops the event on it."""


class Budget:
    def __init__(
        self,
        config: QuotaConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        quota: Quota | None = None,
    ) -> None:
        """``quota``: the model to carry out (by default a new one, as of now on ``clock``)."""
        self._clock = clock
        self.quota = quota if quota is not None else Quota(config, clock())
        # Waiting callers by priority, then arrival; only the first may take a place. A new
        # person arriving becomes the first at once, even while others wait for a place only
        # the reserve could give them.
        self._queue: list[tuple[int, int, asyncio.Event]] = []
        self._order = itertools.count()
        self.waited_s = 0.0
        """Time callers spent waiting for the quota, summed over callers."""
        self.calls = 0
        self.waiting = 0

    async def acquire(self) -> int:
        """Wait until one more call fits the quota, then count it as sent; its ticket, for
        ``release``."""
        start = self._clock()
        priority = _priority.get()
        me = (priority, next(self._order), asyncio.Event())
        heapq.heappush(self._queue, me)
        self.waiting += 1
        try:
            while True:
                wait: float | None = None  # not first: until woken
                if self._queue[0] is me:
                    now = self._clock()
                    wait = self.quota.wait_s(now, reserve=priority != URGENT)
                    if wait == 0:
                        break
                me[2].clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await me[2].wait()
            abandoned = _abandoned.get()
            if abandoned is not None and abandoned():
                raise Abandoned
            ticket = self.quota.sent(self._clock())
            self.calls += 1
            _priority.set(min(priority, UNDER_WAY))
        finally:
            self._leave(me)
            self.waiting -= 1
            waited = self._clock() - start
            self.waited_s += waited
            _waited_here.set(_waited_here.get() + waited)
        return ticket

    def _leave(self, me: tuple[int, int, asyncio.Event]) -> None:
        if self._queue and self._queue[0] is me:
            heapq.heappop(self._queue)
        else:
            self._queue.remove(me)
            heapq.heapify(self._queue)
        self._wake()

    def _wake(self) -> None:
        if self._queue:
            self._queue[0][2].set()

    def release(
        self,
        status: int | None,
        *,
        retry_after_s: float | None = None,
        remaining: int | None = None,
        total: int | None = None,
        ticket: int | None = None,
    ) -> None:
        """A call acquired earlier ended: its status (None: no answer) and what the answer said
        about the quota. ``ticket``: what ``acquire`` returned (without it, the oldest call in
        flight), so that the probe's answer is known for what it is."""
        self.quota.answered(
            self._clock(),
            ticket,
            status,
            retry_after_s=retry_after_s,
            remaining=remaining,
            total=total,
        )
        self._wake()

    def assigned(self, held: int, partitions: int | None) -> None:
        """The consumer group's assignment changed: ``held`` of the topic's ``partitions``."""
        self.quota.assigned(held, partitions)
        self._wake()

    def pressed(self) -> bool:
        """Whether calls wait for the quota now (someone is waiting, or the next would, the
        reserve aside)."""
        return self.waiting > 0 or self.quota.wait_s(self._clock(), reserve=True) != 0

    def state(self) -> QuotaState:
        return self.quota.state(self._clock())

    def calls_per_hour(self) -> float:
        return self.quota.calls_per_hour(self._clock())
