"""Within one process, a person's writes never race.

Events are delivered one at a time per key (userId, else anonymousId), but one person can arrive
under several keys at once — a database userId on one partition, the same person's email as
userId on another — and Freshsales replaces a contact's whole account list with what a write
sends: two chains reading the same accounts and each writing one more would unlink the other's.
So a chain holds a lock per identity its event carries and per person it works on.

No deadlock: at the start a chain takes all its locks at once, identities before people, in one
order; later it may only add the lock of the person an answer revealed, which no chain holding
a person's lock ever waits for (it found its person at the start).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from translate import Key

LockName = tuple[int, bytes]
"""(0, identity key) or (1, person key as bytes): identities sort before people."""


def identity(key: Key) -> LockName:
    return (0, key)


def person(key: int) -> LockName:
    return (1, key.to_bytes(9, "big", signed=False))


class Locks:
    """A lock per name, taken without awaiting anything when nobody holds it (the usual case:
    one event per person at a time), handed on in order to whoever waits when it is released."""

    def __init__(self) -> None:
        self._waiting: dict[LockName, deque[asyncio.Future[None]]] = {}
        """The names held, each with whoever waits for it, first come first."""

    def __len__(self) -> int:
        """Locks in use (held or waited for); none are kept once nobody needs them."""
        return len(self._waiting)

    async def acquire(self, names: Iterable[LockName]) -> list[LockName]:
        """Take every lock of ``names`` (in the one order); returns them, for ``release``."""
        taken: list[LockName] = []
        try:
            for name in sorted(set(names)):
                queue = self._waiting.get(name)
                if queue is None:
                    self._waiting[name] = deque()
                else:
                    await self._wait(name, queue)
                taken.append(name)
        except BaseException:
            self.release(taken)
            raise
        return taken

    def release(self, names: Iterable[LockName]) -> None:
        for name in names:
            self._hand_on(name)

    async def _wait(self, name: LockName, queue: deque[asyncio.Future[None]]) -> None:
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(handed)
        try:
            await handed
        except BaseException:
            if handed.done() and not handed.cancelled():
                self._hand_on(name)  # handed over just as it was given up: pass it on
            elif handed in queue:  # (a release may have dropped it already)
                queue.remove(handed)
            raise

    def _hand_on(self, name: LockName) -> None:
        queue = self._waiting[name]
        while queue:
            handed = queue.popleft()
            if not handed.done():
                handed.set_result(None)
                return
        del self._waiting[name]
