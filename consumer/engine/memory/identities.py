"""Who a userId is in Freshsales: a bounded, least-recently-used cache of person records.

Filled by every answer that names a person (identify upserts, the minimal upserts that track,
page, screen and group make for an unknown person, and the links a group or a company writes),
read by track/page/screen/group so that a known person costs no call. Only what later requests
use is kept, so a large cache stays small in memory: the person's accounts (as ``(id,
is_primary)`` links) are kept because a link must write them all back.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

KEPT_FIELDS = ("id", "owner_id", "targetable_type", "sales_accounts")


def kept(record: Mapping[str, object]) -> dict[str, object]:
    """The fields of a record that later requests use (ids, owner, the person's accounts) and
    the person's kind."""
    return {k: record[k] for k in KEPT_FIELDS if record.get(k) is not None}


class IdentityCache:
    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 0:
            raise ValueError("capacity must not be negative")
        self._capacity = capacity
        self._people: OrderedDict[str, Mapping[str, object]] = OrderedDict()

    def get(self, identity: str | None) -> Mapping[str, object] | None:
        if identity is None:
            return None
        person = self._people.get(identity)
        if person is not None:
            self._people.move_to_end(identity)
        return person

    def put(self, identity: str | None, record: Mapping[str, object]) -> None:
        if identity is None or self._capacity == 0 or record.get("id") is None:
            return
        self._people[identity] = kept(record)
        self._people.move_to_end(identity)
        while len(self._people) > self._capacity:
            self._people.popitem(last=False)

    def forget(self, identity: str | None) -> None:
        if identity is not None:
            self._people.pop(identity, None)

    def __len__(self) -> int:
        return len(self._people)
