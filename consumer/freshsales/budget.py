"""Carries out ``consumer.freshsales.quota``: every Freshsales call waits here for its place in
the quota.

Waiting callers queue in arrival order (one lock, fair in asyncio), so a key that asked first
sends first and nobody starves. A caller waits only for the quota, never while holding a
delivery slot: work that needs no call (a known person, an unchanged upsert) passes meanwhile.
After a 429's pause the first in line goes alone, as the probe; the rest wait for its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
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
        self._turn = asyncio.Lock()
        self._changed = asyncio.Event()
        self.waited_s = 0.0
        """Time callers spent waiting for the quota, summed over callers."""
        self.calls = 0
        self.waiting = 0

    async def acquire(self) -> int:
        """Wait until one more call fits the quota, then count it as sent; its ticket, for
        ``release``."""
        start = self._clock()
        self.waiting += 1
        try:
            async with self._turn:
                while (wait := self.quota.wait_s(self._clock())) != 0:
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self._changed.wait()
                abandoned = _abandoned.get()
                if abandoned is not None and abandoned():
                    raise Abandoned
                ticket = self.quota.sent(self._clock())
                self.calls += 1
        finally:
            self.waiting -= 1
            waited = self._clock() - start
            self.waited_s += waited
            _waited_here.set(_waited_here.get() + waited)
        return ticket

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
        self._changed.set()

    def assigned(self, held: int, partitions: int | None) -> None:
        """The consumer group's assignment changed: ``held`` of the topic's ``partitions``."""
        self.quota.assigned(held, partitions)
        self._changed.set()

    def state(self) -> QuotaState:
        return self.quota.state(self._clock())

    def calls_per_hour(self) -> float:
        return self.quota.calls_per_hour(self._clock())
