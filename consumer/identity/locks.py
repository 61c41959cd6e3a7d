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
from collections.abc import Iterable

from translate import Key

LockName = tuple[int, bytes]
"""(0, identity key) or (1, person key as bytes): identities sort before people."""


def identity(key: Key) -> LockName:
    return (0, key)


def person(key: int) -> LockName:
    return (1, key.to_bytes(9, "big", signed=False))


class Locks:
    def __init__(self) -> None:
        self._held: dict[LockName, asyncio.Lock] = {}
        self._users: dict[LockName, int] = {}

    def __len__(self) -> int:
        """Locks in use (held or waited for); none are kept once nobody needs them."""
        return len(self._held)

    async def acquire(self, names: Iterable[LockName]) -> list[LockName]:
        """Take every lock of ``names`` (in the one order); returns them, for ``release``."""
        taken: list[LockName] = []
        try:
            for name in sorted(set(names)):
                lock = self._held.get(name)
                if lock is None:
                    lock = self._held[name] = asyncio.Lock()
                self._users[name] = self._users.get(name, 0) + 1
                try:
                    await lock.acquire()
                except BaseException:
                    self._done_with(name)
                    raise
                taken.append(name)
        except BaseException:
            self.release(taken)
            raise
        return taken

    def release(self, names: Iterable[LockName]) -> None:
        for name in names:
            self._held[name].release()
            self._done_with(name)

    def _done_with(self, name: LockName) -> None:
        users = self._users[name] - 1
        if users:
            self._users[name] = users
        else:
            del self._users[name]
            del self._held[name]
