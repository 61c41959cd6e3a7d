"""Skip-unchanged: an idempotent write that repeats the last one delivered is not sent again.

Segment sources send identify on every page load with the same traits; each would cost one of
the account's ~1,000 hourly calls and change nothing. This remembers, per record (path and
``unique_identifier``), a digest of the last body delivered and the few fields of the answer that
later steps use. A write with the same digest inside the window is answered from memory.

The window bounds how long a change made in Freshsales by hand can go unrepaired by a repeated
identical event; capacity bounds memory (least recently used entries go first).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

import orjson

KEPT_FIELDS = ("id", "owner_id", "targetable_type", "sales_accounts")


def kept(record: Mapping[str, object]) -> dict[str, object]:
    """The fields of a record that later requests use (ids, owner, the person's accounts) and
    the person's kind: a large memory stays small."""
    return {k: record[k] for k in KEPT_FIELDS if record.get(k) is not None}


def _identity(method: str, path: str, body: Mapping[str, object]) -> str | None:
    """Which record an upsert is for (its path and ``unique_identifier``); None for any other
    call: a POST creates (an activity), and a PUT is rarely repeated and not worth the risk."""
    if method == "POST" and path.partition("?")[0].endswith("/upsert"):
        unique = body.get("unique_identifier")
        if isinstance(unique, Mapping) and unique:
            return path + "\0" + orjson.dumps(unique, option=orjson.OPT_SORT_KEYS).decode()
    return None


def _module(path: str) -> str:
    return path.partition("/")[0]


def _digest(body: Mapping[str, object]) -> bytes:
    return hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


class UpsertMemory:
    def __init__(
        self,
        window_s: float,
        capacity: int = 100_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window_s = window_s
        self._capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float, dict[str, object]]] = OrderedDict()
        self._by_id: dict[tuple[str, str], str] = {}  # (module, record id) → its entry

    def recall(
        self, method: str, path: str, body: Mapping[str, object]
    ) -> dict[str, object] | None:
        """The remembered answer when this exact write was delivered within the window."""
        identity = _identity(method, path, body)
        if identity is None or self._window_s <= 0:
            return None
        entry = self._entries.get(identity)
        if entry is None:
            return None
        digest, at, record = entry
        if self._clock() - at > self._window_s:
            del self._entries[identity]
            return None
        if digest != _digest(body):
            return None
        self._entries.move_to_end(identity)
        return record

    def remember(
        self, method: str, path: str, body: Mapping[str, object], answer: Mapping[str, object]
    ) -> None:
        """A write was delivered; ``answer`` is the record it returned (kept in part)."""
        identity = _identity(method, path, body)
        if identity is None or self._window_s <= 0 or self._capacity <= 0:
            return
        record = kept(answer)
        self._entries[identity] = (_digest(body), self._clock(), record)
        self._entries.move_to_end(identity)
        if "id" in record:
            self._by_id[_module(path), str(record["id"])] = identity
        while len(self._entries) > self._capacity:
            old_identity, (_, _, old) = self._entries.popitem(last=False)
            self._by_id.pop((_module(old_identity), str(old.get("id"))), None)

    def forget_written(self, path: str) -> None:
        """A write to ``module/id`` changed that record some other way: the next identical upsert
        must be sent again (a lifecycle PUT after an identify, then the same identify)."""
        module, _, record_id = path.partition("?")[0].partition("/")
        identity = self._by_id.pop((module, record_id), None)
        if identity is not None:
            self._entries.pop(identity, None)

    def refresh_written(self, path: str, answer: Mapping[str, object]) -> None:
        """A write to ``module/id`` changed fields the remembered upsert does not send (a
        person's accounts): the upsert stays unchanged, but its answer is now ``answer``."""
        module, _, record_id = path.partition("?")[0].partition("/")
        identity = self._by_id.get((module, record_id))
        entry = self._entries.get(identity) if identity is not None else None
        if identity is not None and entry is not None:
            digest, at, _ = entry
            self._entries[identity] = (digest, at, kept(answer))

    def __len__(self) -> int:
        return len(self._entries)
