"""The reserve: places of each window that a backlog leaves to new people's calls, pure.

A backlog fills the windows as fast as they free up; with nothing kept back, a new lead waits
for the next place to free, and after a burst (a restart, a replica that gained partitions) that
is the whole window's length. So a call that is not a new person's leaves ``RESERVE`` of each
window free — but only as far as the next ``RESERVE`` of the window's length: it may take a
reserved place when enough of the window's calls age out within that time to make the reserve
whole again. A new person's call, which goes before the backlog's, therefore waits at most that
long (3 s of a minute, 3 minutes of an hour), and the backlog still uses the whole quota: it
never needs more than ``RESERVE`` of the window in that time, while the window frees at least
that much of its capacity (equal rates at the plan's pace).
"""

from __future__ import annotations

import math
from typing import Final

from consumer.freshsales.windows import Window

RESERVE: Final = 0.05
"""The fraction of each window kept for new people, and of its length they may wait for it."""


def reserved(capacity: int) -> int:
    """Places of a window of ``capacity`` kept for new people: none below 20."""
    return math.floor(capacity * RESERVE)


def backlog_wait_s(window: Window, capacity: int, in_flight: int, now: float) -> float | None:
    """Seconds until a call that is not a new person's may take a place in ``window`` (None:
    only an answer can free one): a place now, and the reserve whole again within the horizon."""
    wait = window.wait_s(capacity, in_flight, now)
    kept = reserved(capacity)
    if wait is None or kept == 0:
        return wait
    # Window.wait_s of a later moment counts what will have aged out by then; its answer is the
    # time from now until the shortened window has a place.
    horizon = window.wait_s(capacity - kept, in_flight, now + RESERVE * window.length_s)
    return None if horizon is None else max(wait, horizon)
