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
        self._listeners: list[Forgotten] = []

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: Key) -> bool:
        return key in self._by_key

    def listen(self, listener: Forgotten) -> None:
        self._listeners.append(listener)

    def requested(self, request: Key) -> bool:
        return request in self._requests

    def requests(self) -> Iterator[tuple[Key, tuple[Key, ...]]]:
        return iter(list(self._requests.items()))

    def add(self, request: Key, keys: tuple[Key, ...]) -> None:
        for key in keys:
            self._by_key[key] = request
        self._requests[request] = keys
        for key in keys:
            for listener in self._listeners:
                listener(key)

    def lift(self, request: Key) -> None:
        for key in self._requests.pop(request, ()):
            if self._by_key.get(key) == request:
                del self._by_key[key]
