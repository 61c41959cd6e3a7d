"""Events of people not known yet, as one partition of the waiting topic holds them: what waits
under which identity, since when, and which are due to go.

Held compactly — a few dozen bytes an event — because a busy site has far more anonymous visitors
than sign-ups: the events themselves stay in Kafka and are read again only when they go (their
person turned up, or their wait is over). Per identity, a flat array of pairs:
``offset`` (in the waiting topic) and ``since_ms << 4 | kind << 1 | has_user``. An event that
waits under two identities (a userId and an anonymousId, neither known) is in both arrays;
whichever is named first takes it from the other.

Pure bookkeeping: the waiting room (``consumer.engine.waitroom``) decides nothing here beyond
which events are due; it carries out the rest.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from translate import Key

KINDS: Final = ("track", "page", "screen", "group", "identify")
_CODE: Final = {kind: code for code, kind in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class Held:
    """One waiting event."""

    offset: int
    since_ms: int
    kind: str
    has_user: bool
    """It carries a userId: at the end of its wait it is dead-lettered, not merely expired."""


def _pack(since_ms: int, kind: str, has_user: bool) -> int:
    return since_ms << 4 | _CODE.get(kind, 0) << 1 | has_user


def _unpack(offset: int, meta: int) -> Held:
    return Held(offset, meta >> 4, KINDS[meta >> 1 & 0b111], bool(meta & 1))


class Shelf:
    def __init__(self) -> None:
        self._by_key: dict[Key, array[int]] = {}
        self._pairs: dict[int, tuple[Key, Key]] = {}
        """Offset → both identities, for the few events that wait under two."""
        self.events = 0
        self._earliest_ms: int | None = None
        """No event waits from before this (a bound, kept cheaply: it may be earlier)."""

    @property
    def identities(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def keys(self) -> list[Key]:
        return list(self._by_key)

    def add(
        self, keys: tuple[Key, ...], offset: int, since_ms: int, kind: str, has_user: bool
    ) -> None:
        """An event waits under ``keys`` (one or two identities)."""
        meta = _pack(since_ms, kind, has_user)
        for key in keys[:2]:
            held = self._by_key.get(key)
            if held is None:
                held = self._by_key[key] = array("q")
            held.append(offset)
            held.append(meta)
        if len(keys) > 1 and keys[0] != keys[1]:
            self._pairs[offset] = (keys[0], keys[1])
        self.events += 1
        if self._earliest_ms is None or since_ms < self._earliest_ms:
            self._earliest_ms = since_ms

    def held(self, key: Key) -> list[Held]:
        """The events waiting under ``key``, oldest first (by offset)."""
        pairs = self._by_key.get(key)
        if pairs is None:
            return []
        return [_unpack(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]

    def take(self, key: Key, offsets: Iterable[int] | None = None) -> list[Held]:
        """Remove the events waiting under ``key`` (only ``offsets`` of them, when given), from
        every identity they wait under; returns them."""
        pairs = self._by_key.get(key)
        if pairs is None:
            return []
        wanted = None if offsets is None else set(offsets)
        taken: list[Held] = []
        kept = array("q")
        for i in range(0, len(pairs), 2):
            offset, meta = pairs[i], pairs[i + 1]
            if wanted is None or offset in wanted:
                taken.append(_unpack(offset, meta))
            else:
                kept.append(offset)
                kept.append(meta)
        if kept:
            self._by_key[key] = kept
        else:
            del self._by_key[key]
        for held in taken:
            both = self._pairs.pop(held.offset, None)
            if both is not None:
                other = both[1] if both[0] == key else both[0]
                self._forget(other, held.offset)
        self.events -= len(taken)
        return taken

    def oldest_beyond(self, key: Key, most: int) -> list[int]:
        """Offsets of the events of ``key`` past the first ``most`` from the newest: the ones
        over the limit of events one identity may have waiting."""
        pairs = self._by_key.get(key)
        if pairs is None or len(pairs) // 2 <= most:
            return []
        over = len(pairs) // 2 - most
        return [pairs[i] for i in range(0, 2 * over, 2)]

    def due(self, horizon_ms: int) -> Iterator[tuple[Key, list[int]]]:
        """Identities with events waiting since before ``horizon_ms``, and those offsets."""
        if self._earliest_ms is None or self._earliest_ms >= horizon_ms:
            return
        earliest: int | None = None
        for key, pairs in list(self._by_key.items()):
            old = []
            for i in range(0, len(pairs), 2):
                since = pairs[i + 1] >> 4
                if since < horizon_ms:
                    old.append(pairs[i])
                elif earliest is None or since < earliest:
                    earliest = since
            if old:
                yield key, old
        self._earliest_ms = earliest

    def oldest_events(self, count: int) -> Iterator[tuple[Key, list[int]]]:
        """About ``count`` of the events waiting longest, by identity: room when too many wait."""
        everything = sorted(
            (pairs[i + 1] >> 4, pairs[i], key)
            for key, pairs in self._by_key.items()
            for i in range(0, len(pairs), 2)
        )
        chosen: dict[Key, list[int]] = {}
        taken: set[int] = set()
        for _, offset, key in everything:
            if len(taken) >= count:
                break
            if offset not in taken:
                taken.add(offset)
                chosen.setdefault(key, []).append(offset)
        yield from chosen.items()

    def _forget(self, key: Key, offset: int) -> None:
        pairs = self._by_key[key]  # the event is still under its other identity
        kept = array("q")
        for i in range(0, len(pairs), 2):
            if pairs[i] != offset:
                kept.append(pairs[i])
                kept.append(pairs[i + 1])
        if kept:
            self._by_key[key] = kept
        else:
            del self._by_key[key]
