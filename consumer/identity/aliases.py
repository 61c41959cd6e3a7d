"""Aliases between two identities nobody is known by yet: the link waits for one of them to name
a person. Kept at most ``limit`` pairs, the oldest dropped first (an alias of two ids that never
show up again must not hold memory forever)."""

from __future__ import annotations

from collections.abc import Iterator

from translate import Key


class PendingAliases:
    def __init__(self, limit: int) -> None:
        self._partner: dict[Key, Key] = {}
        self._limit = limit

    def __len__(self) -> int:
        return len(self._partner) // 2

    def add(self, first: Key, second: Key) -> None:
        """``first`` and ``second`` are one person; each leaves any pair it was in before."""
        for key in (first, second):
            self.take(key)
        self._partner[first] = second
        self._partner[second] = first
        while len(self._partner) > 2 * self._limit:
            self.take(next(iter(self._partner)))

    def take(self, key: Key) -> Key | None:
        """The identity ``key`` was paired with, the pair gone; None when it had none."""
        partner = self._partner.pop(key, None)
        if partner is not None:
            del self._partner[partner]
        return partner

    def pairs(self) -> Iterator[tuple[Key, Key]]:
        seen: set[Key] = set()
        for first, second in list(self._partner.items()):
            if first not in seen:
                seen.add(second)
                yield first, second
