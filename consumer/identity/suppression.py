"""Identities a deletion request suppressed: their events are never delivered again.

Kept per request, so that ``forget --undo`` (Segment's UNSUPPRESS) lifts exactly what one request
suppressed, and an identity two requests named stays suppressed by the later one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from translate import Key

Forgotten = Callable[[Key], None]
"""Told each identity a deletion request suppresses (what waits under it goes)."""


class Suppressions:
    def __init__(self) -> None:
        self._by_key: dict[Key, Key] = {}
        """Identity → the deletion request that suppressed it."""
        self._requests: dict[Key, tuple[Key, ...]] = {}
        """Deletion request → the identities it suppressed."""
        self._people: dict[Key, tuple[tuple[int, bool], ...]] = {}
        """Deletion request → the Freshsales people it erases."""
        self._done: set[Key] = set()
        """Requests Freshsales carried out whole (until then, the same request again erases its
        people again: the first may have stopped half-way)."""
        self._listeners: list[Forgotten] = []

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: Key) -> bool:
        return key in self._by_key

    def listen(self, listener: Forgotten) -> None:
        self._listeners.append(listener)

    def request_of(self, key: Key) -> Key | None:
        """The deletion request that suppresses ``key`` (the latest that named it)."""
        return self._by_key.get(key)

    def requests(
        self,
    ) -> Iterator[tuple[Key, tuple[Key, ...], tuple[tuple[int, bool], ...], bool]]:
        return iter(
            [
                (r, keys, self._people.get(r, ()), r in self._done)
                for r, keys in self._requests.items()
            ]
        )

    def people_of(self, request: Key) -> tuple[tuple[tuple[int, bool], ...], bool]:
        """The people ``request`` erases, and whether Freshsales erased them all."""
        return self._people.get(request, ()), request in self._done

    def add(
        self,
        request: Key,
        keys: tuple[Key, ...],
        people: tuple[tuple[int, bool], ...],
        done: bool,
    ) -> None:
        # The same request again (a replay, the command run again) adds to what it suppressed
        # and erases: ``lift`` must lift all of it.
        keys = tuple(dict.fromkeys(self._requests.get(request, ()) + keys))
        people = tuple(sorted(set(self._people.get(request, ())) | set(people)))
        for key in keys:
            self._by_key[key] = request
        self._requests[request] = keys
        self._people[request] = people
        if done:
            self._done.add(request)
        else:
            self._done.discard(request)
        for key in keys:
            for listener in self._listeners:
                listener(key)

    def lift(self, request: Key) -> None:
        self._people.pop(request, None)
        self._done.discard(request)
        for key in self._requests.pop(request, ()):
            if self._by_key.get(key) == request:
                del self._by_key[key]
