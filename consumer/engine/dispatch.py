"""Per-key order with concurrency across keys, new people first, and what waits held compactly.

Events with one key (userId, else anonymousId, else messageId) are handled one at a time, in the
order they were submitted; events of different keys run concurrently, on at most ``workers``
tasks. A key whose head is ready joins a queue of ready keys ordered by ``priority`` (lower
first: a new person's identify before other people's activities), then by arrival. Work of
priority ``URGENT`` (the budget's) may start on up to ``spare`` more tasks (the engine's:
:data:`SPARE_WORKERS`) when every worker is busy: with the quota short every worker may be
waiting for it, and a new person must not wait for one to free up (the quota keeps a reserve for
exactly their calls). The total in flight is bounded by the handler (it holds a slot around each
call, not while it waits to retry, so a stuck key never blocks the others); what is buffered is
bounded by the source, which pauses fetching (see ``items`` and ``folded``).

Work submitted behind work that has not started may be folded into it (``Folder.join``): the
events wait as one compact piece and go out as one (``consumer.engine.folding``); just before a
head is handled, what is queued right behind it may be gathered into it too (``gather``). A folder
may also hold a key's head back a while (``hold_s``: a session window) so that more can join it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, Protocol, TypeVar

from consumer.freshsales.budget import URGENT

W = TypeVar("W")
W_in = TypeVar("W_in", contravariant=True)
WORKERS = 256
SPARE_WORKERS = 32


class Folder(Protocol[W_in]):
    def join(self, waiting: W_in, work: W_in) -> bool:
        """Fold ``work`` into ``waiting`` (queued, not started); False when it must queue alone."""

    def gather(self, head: W_in, waiting: Iterable[W_in]) -> int:
        """Just before ``head`` is handled: fold the work queued right behind it into it; how
        many, from the front."""

    def compact(self, work: W_in) -> bool:
        """``work`` is going to wait: hold it as compactly as possible (True when it changed)."""

    def size(self, work: W_in) -> int:
        """How many events ``work`` stands for."""

    def folded(self, work: W_in) -> int:
        """How many of them are held folded, a line each (0: ``work`` is one event, whole)."""

    def hold_s(self, head: W_in) -> float:
        """How long ``head`` waits before its turn, so that more can join it (0: at once)."""


class NoFolding(Generic[W]):
    def join(self, waiting: W, work: W) -> bool:
        return False

    def gather(self, head: W, waiting: Iterable[W]) -> int:
        return 0

    def compact(self, work: W) -> bool:
        return False

    def size(self, work: W) -> int:
        return 1

    def folded(self, work: W) -> int:
        return 0

    def hold_s(self, head: W) -> float:
        return 0.0


class KeyedDispatcher(Generic[W]):
    def __init__(
        self,
        handle: Callable[[W], Awaitable[None]],
        *,
        folder: Folder[W] | None = None,
        priority: Callable[[W], int] = lambda work: 0,
        workers: int = WORKERS,
        spare: int = 0,
    ) -> None:
        self._handle = handle
        self._folder: Folder[W] = folder or NoFolding()
        self._priority = priority
        self._max_workers = workers
        self._spare = spare
        # A list, not a deque: most keys hold one piece of work, and a deque costs ~600 bytes
        # even then; a backlog read far ahead holds tens of thousands of keys.
        self._queues: dict[str, list[W]] = {}
        self._ready: list[tuple[int, int, str]] = []
        self._turns: dict[str, int] = {}  # key → its one valid turn (ready or held back)
        self._held: dict[str, asyncio.TimerHandle] = {}
        self._current: dict[str, W] = {}  # key → the work being handled
        self._workers: set[asyncio.Task[None]] = set()
        self._order = itertools.count()
        self._buffered = 0
        self._folded = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.crashed: BaseException | None = None
        """A handler raised: a bug, since handlers settle every outcome themselves. The service
        stops rather than skip the event (its offset is never committed)."""

    @property
    def buffered(self) -> int:
        """Events submitted and not yet handled (queued, folded or in progress)."""
        return self._buffered

    @property
    def items(self) -> int:
        """Events held whole: each its own piece of work, with its record and translation."""
        return self._buffered - self._folded

    @property
    def folded(self) -> int:
        """Events held folded: a line each in a piece of work that stands for several."""
        return self._folded

    @property
    def active_keys(self) -> int:
        return len(self._queues)

    def submit(self, key: str, work: W) -> None:
        # One event, or (the waiting room's) several at once, held compactly.
        self._buffered += self._folder.size(work)
        self._folded += self._folder.folded(work)
        self._idle.clear()
        queue = self._queues.get(key)
        if queue is None:
            self._queues[key] = [work]
            if len(self._workers) >= self._max_workers:  # no worker is free: it will wait
                self._compact(work)
            self._turn(key)
            return
        waiting = len(queue) > 1 or key not in self._current
        if waiting:
            before = self._folder.folded(queue[-1])
            if self._folder.join(queue[-1], work):
                self._folded += self._folder.folded(queue[-1]) - before
                return
        queue.append(work)
        self._compact(work)

    def compact_waiting(self) -> None:
        """Fold or compact everything that waits (not started): the buffer filled before the
        quota got short, and its events are going to wait after all."""
        for key, queue in self._queues.items():
            i = start = 1 if key in self._current else 0
            while i < len(queue):
                if i > start:
                    before = self._folder.folded(queue[i - 1])
                    if self._folder.join(queue[i - 1], queue[i]):
                        self._folded += self._folder.folded(queue[i - 1]) - before
                        del queue[i]
                        continue
                self._compact(queue[i])
                i += 1

    def _compact(self, work: W) -> None:
        before = self._folder.folded(work)
        if self._folder.compact(work):
            self._folded += self._folder.folded(work) - before

    def _turn(self, key: str) -> None:
        """Give ``key`` a turn for its head: at once, or after the folder's hold."""
        turn = self._turns[key] = next(self._order)
        hold = self._folder.hold_s(self._queues[key][0])
        if hold > 0:
            loop = asyncio.get_running_loop()
            self._held[key] = loop.call_later(hold, self._enqueue, key, turn)
        else:
            self._enqueue(key, turn)

    def _enqueue(self, key: str, turn: int) -> None:
        # A held turn is never stale: discarding a key's last work cancels its timer.
        self._held.pop(key, None)
        priority = self._priority(self._queues[key][0])
        heapq.heappush(self._ready, (priority, turn, key))
        most = self._max_workers + (self._spare if priority <= URGENT else 0)
        if len(self._workers) < most:
            task = asyncio.get_running_loop().create_task(self._work())
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def _work(self) -> None:
        while self._ready:
            if len(self._workers) > self._max_workers and self._ready[0][0] > URGENT:
                return  # a spare worker: it takes urgent work only
            _, turn, key = heapq.heappop(self._ready)
            queue = self._queues.get(key)
            if not queue or self._turns.get(key) != turn:
                continue  # its work was discarded (and maybe new work came) while it waited
            del self._turns[key]
            work = self._current[key] = queue[0]
            before = self._folder.folded(work)
            taken = self._folder.gather(work, itertools.islice(queue, 1, None))
            for _ in range(taken):
                del queue[1]
            self._folded += self._folder.folded(work) - before
            try:
                await self._handle(work)
            except Exception as exc:  # recorded for the service loop, which stops on it
                self.crashed = exc
                del self._queues[key]
                # Crashed: what is left was never handled.
                self._settled(queue)
                continue
            finally:
                self._current.pop(key, None)
            del queue[0]
            self._settled((work,))
            if queue:
                self._turn(key)
            else:
                del self._queues[key]

    def _settled(self, works: Iterable[W]) -> None:
        """``works`` left the queues, handled or not."""
        for work in works:
            self._buffered -= self._folder.size(work)
            self._folded -= self._folder.folded(work)
        if self._buffered == 0:
            self._idle.set()

    def discard(self, drop: Callable[[W], bool]) -> list[W]:
        """Remove queued work that has not started (e.g. of a revoked partition); returns it."""
        removed: list[W] = []
        for key, queue in list(self._queues.items()):
            start = 1 if key in self._current else 0  # in progress: the handler owns it
            kept = [w for i, w in enumerate(queue) if i < start or not drop(w)]
            removed += [w for i, w in enumerate(queue) if i >= start and drop(w)]
            queue.clear()
            queue.extend(kept)
            if not queue:
                del self._queues[key]
                self._turns.pop(key, None)
                handle = self._held.pop(key, None)
                if handle is not None:
                    handle.cancel()
        self._settled(removed)
        return removed

    def in_progress(self, match: Callable[[W], bool]) -> int:
        """How many handlers are running on work that ``match``es."""
        return sum(1 for work in self._current.values() if match(work))

    async def wait_idle(self) -> None:
        """Wait until nothing is buffered (bound it with ``asyncio.timeout``)."""
        await self._idle.wait()

    async def cancel(self) -> None:
        """Abandon everything: in-progress handlers are cancelled, queues dropped."""
        for handle in self._held.values():
            handle.cancel()
        self._held.clear()
        tasks = list(self._workers)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # What was left was never handled: nothing of it is finished (or committed).
        queues, self._queues = list(self._queues.values()), {}
        self._ready.clear()
        self._turns.clear()
        self._current.clear()
        self._settled(w for q in queues for w in q)
