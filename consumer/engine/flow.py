"""When to stop fetching, and how much to fetch: pure rules the fetch loop carries out.

What is buffered is counted twice: ``items``, pieces of work held whole (an event, or the first of
a folded run), bounded by MAX_BUFFERED; and ``folded``, events held as a line in another's digest
or merge, bounded by MAX_FOLDED. Folded events cost a few hundred bytes each, so the service
reads far ahead of what it can send while the quota is short — far enough to reach a new person
at the back of a backlog — with memory bounded by the people waiting rather than their events.

Whole events fill the buffer while calls still go out at once; when the quota then gets short,
they are going to wait after all, and are folded then (``should_compact``), so that reading goes on.

Fetching pauses while either is full (and stays paused until it has drained to half, so the
loop does not flap at the limit), while the key is refused (nothing could be delivered), and while
the circuit breaker is open with work buffered (the buffered work probes Freshsales; with none,
the next event fetched becomes the probe).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Held:
    items: int
    folded: int = 0


@dataclass(frozen=True, slots=True)
class Limits:
    items: int
    """MAX_BUFFERED."""
    folded: int = 0
    """MAX_FOLDED (0: nothing is folded)."""


def should_pause(
    held: Held, limits: Limits, *, paused: bool, delivering: bool, circuit_open: bool
) -> bool:
    anything = held.items + held.folded > 0
    if not delivering or (circuit_open and anything):
        return True
    full = held.items >= limits.items or (limits.folded > 0 and held.folded >= limits.folded)
    draining = held.items > limits.items // 2 or held.folded > limits.folded // 2
    return full or (paused and draining)


def fetch_room(held: Held, limits: Limits, *, most: int, folding: bool = False) -> int:
    """How many records one fetch may return: the free room, at least one (a paused source
    returns nothing anyway), at most ``most``. While what waits is folded (``folding``), the
    folded room counts too: most records fetched then fold."""
    room = limits.items - held.items
    if folding and limits.folded:
        room = max(room, limits.folded - held.folded)
    return max(1, min(most, room))


def should_compact(held: Held, limits: Limits, *, paused: bool, pressed: bool) -> bool:
    """Whether to fold what waits whole: calls wait for the quota (``pressed``) while whole events
    hold fetching back — the buffer is full of them, or still draining from full."""
    if not pressed or limits.folded == 0:
        return False
    return held.items >= limits.items or (paused and held.items > limits.items // 2)
