"""Per-key order with concurrency across keys.

Events with one key (userId, else anonymousId, else messageId) are handled one at a time, in the
order they were submitted; events of different keys run concurrently. A key has a task only while
it has work, so idle users cost nothing. The total in flight is bounded by the handler (it holds a
semaphore around each attempt, and not while it waits to retry, so a stuck key never blocks the
others), and the total buffered by the source, which pauses fetching (see ``buffered``).

Just before a key's next work is handled, ``fold`` may let it stand for the work queued right
behind it (``consumer.engine.folding``): what waits for the quota is sent as one.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

W = TypeVar("W")
Fold = Callable[[W, Iterable[W]], tuple[W, int]]
"""(the work about to be handled, the work queued behind it) → (the work to handle instead, how
many of the queued it took over, from the front)."""


def no_fold(head: W, waiting: Iterable[W]) -> tuple[W, int]:
    return head, 0


class KeyedDispatcher(Generic[W]):
    def __init__(self, handle: Callable[[W], Awaitable[None]], fold: Fold[W] = no_fold) -> None:
        self._handle = handle
        self._fold = fold
        self._queues: dict[str, deque[W]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._buffered = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.crashed: BaseException | None = None
        """A handler raised: a bug, since handlers settle every outcome themselves. The service
        stops rather than skip the event (its offset is never committed)."""

    @property
    def buffered(self) -> int:
        """Submitted and not yet handled (queued or in progress)."""
        return self._buffered

    @property
    def active_keys(self) -> int:
        return len(self._queues)

    def submit(self, key: str, work: W) -> None:
        queue = self._queues.get(key)
        self._buffered += 1
        self._idle.clear()
        if queue is not None:
            queue.append(work)
            return
        queue = self._queues[key] = deque((work,))
        task = asyncio.get_running_loop().create_task(self._drain(key, queue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, key: str, queue: deque[W]) -> None:
        try:
            while queue:
                work, taken = self._fold(queue[0], itertools.islice(queue, 1, None))
                if taken:
                    self._drop_behind_head(queue, taken)
                await self._handle(work)
                queue.popleft()
                self._settled(1)
        except Exception as exc:  # recorded for the service loop, which stops on it
            self.crashed = exc
        finally:
            del self._queues[key]
            # Cancelled or crashed: what is left was never handled.
            self._settled(len(queue))
            queue.clear()

    def _settled(self, count: int) -> None:
        if not count:
            return
        self._buffered -= count
        if self._buffered == 0:
            self._idle.set()

    def discard(self, drop: Callable[[W], bool]) -> list[W]:
        """Remove queued work that has not started (e.g. of a revoked partition); returns it."""
        removed: list[W] = []
        for queue in self._queues.values():
            if len(queue) < 2:
                continue
            head = queue.popleft()  # in progress: the handler owns it
            kept = [w for w in queue if not drop(w)]
            removed += [w for w in queue if drop(w)]
            queue.clear()
            queue.append(head)
            queue.extend(kept)
        self._settled(len(removed))
        return removed

    def _drop_behind_head(self, queue: deque[W], count: int) -> None:
        if count > len(queue) - 1:
            raise ValueError("fold took more work than was queued")
        head = queue.popleft()
        for _ in range(count):
            queue.popleft()
        queue.appendleft(head)
        self._settled(count)

    def in_progress(self, match: Callable[[W], bool]) -> int:
        """How many handlers are running on work that ``match``es."""
        return sum(1 for queue in self._queues.values() if queue and match(queue[0]))

    async def wait_idle(self) -> None:
        """Wait until nothing is buffered (bound it with ``asyncio.timeout``)."""
        await self._idle.wait()

    async def cancel(self) -> None:
        """Abandon everything: in-progress handlers are cancelled, queues dropped."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
