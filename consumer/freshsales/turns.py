"""Taking turns by priority: a lock whose waiters are served lower priority first, then in the
order they came. The quota's one place goes to a new person's call before the activities that
were waiting for it; among equals nobody is overtaken, so nobody starves."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Turns:
    def __init__(self) -> None:
        self._held = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @asynccontextmanager
    async def turn(self, priority: int = 0) -> AsyncIterator[None]:
        """Hold the one turn inside; waiting for it first when someone has it."""
        if self._held or self._waiting:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (priority, next(self._order), waiter))
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._pass_on()  # handed the turn just as it was cancelled: hand it on
                raise
        self._held = True
        try:
            yield
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)  # the turn stays held: it passes to the waiter
                return
        self._held = False

    @property
    def waiting(self) -> int:
        return sum(1 for _, _, waiter in self._waiting if not waiter.done())
