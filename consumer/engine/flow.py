"""When to stop fetching, and how much to fetch: pure rules the fetch loop carries out.

Fetching pauses while the buffer is full (and stays paused until it has drained to half, so the
loop does not flap at the limit), while the key is refused (nothing could be delivered), and while
the circuit breaker is open with work buffered (the buffered work probes Freshsales; with none,
the next event fetched becomes the probe).
"""

from __future__ import annotations


def should_pause(
    *, buffered: int, limit: int, paused: bool, delivering: bool, circuit_open: bool
) -> bool:
    if not delivering or (circuit_open and buffered > 0):
        return True
    return buffered >= limit or (paused and buffered > limit // 2)


def fetch_room(*, buffered: int, limit: int, most: int) -> int:
    """How many records one fetch may return: the buffer's free room, at least one (a paused
    source returns nothing anyway), at most ``most``."""
    return max(1, min(most, limit - buffered))
