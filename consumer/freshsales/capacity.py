"""What a 429 teaches: the capacity the account really leaves the deployment, and its regrowth.

The plan's figures (``FRESHSALES_RATE_LIMIT_*`` times ``FRESHSALES_QUOTA_SHARE``) are what the
deployment may use when nobody else spends the account. A 429 says somebody did: the server's
window was full when our calls in that window numbered ``fit``, so ``fit`` calls a window is
what is left for this replica, and ``fit`` divided by the replica's part is what is left for the
deployment (every replica paces to its part of it, less a tenth: at the very edge of what the
other integration leaves, every unevenness of its pace would be another 429). The deployment
figure is what is kept, so that a rebalance moves the learned capacity with the partitions.

The learned figure holds for a while, then grows back by a tenth of the plan's figure a minute:
the other integration may have stopped. Finding out costs a 429 when it has not, so each
incident within the hour doubles the hold before the next regrowth — a ceiling that stays is
met at 1, 2, 4, 8… minutes, not every minute.

A replica that has just started, or just gained partitions, learns as well: what the server's
window still holds of the previous owner's calls (or of its own previous life) ages out within
the minute, and the regrowth then finds the room again. The calls are spaced (``pacing``), so
that this is rare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

WindowName = Literal["minute", "hour"]
MINUTE: Final = 60.0
HOUR: Final = 3600.0


@dataclass(frozen=True, slots=True)
class Growth:
    least: float = 0.1
    """A lesson never goes below this fraction of the plan's figure (see ``learn``)."""
    step: float = 0.1
    """Regrowth per minute, as a fraction of the plan's figure…"""
    hold_s: float = MINUTE
    """…after a hold of this long after the pause, doubled for every earlier incident of the
    last hour…"""
    longest_hold_s: float = 16 * MINUTE
    """…up to this."""
    kept: float = 0.9
    """A lesson is this fraction of what fitted: paced exactly to what another integration
    leaves, a replica meets the ceiling again at every unevenness of the other's pace."""


@dataclass(frozen=True, slots=True)
class Learned:
    """The deployment's capacity in one window as a 429 showed it, and when it may grow."""

    calls: float
    grows_from: float


def refused_window(
    retry_after_s: float | None,
    remaining: int | None,
    reported: WindowName | None,
) -> WindowName:
    """Which window a 429 was about. ``reported``: the window ``X-RateLimit-Remaining`` counts
    (from ``-Total``), when the answer carried the header."""
    if remaining is not None and reported is not None:
        # A reported window with room left cannot be the one that refused.
        if remaining <= 0:
            return reported
        return "minute" if reported == "hour" else "hour"
    # Only the hour's window can take longer than a minute to free a place.
    if retry_after_s is not None and retry_after_s > MINUTE:
        return "hour"
    return "minute"


def hold_s(growth: Growth, incidents_this_hour: int) -> float:
    """How long a learned capacity holds before regrowing; ``incidents_this_hour`` counts the
    one that taught it."""
    doublings = min(max(incidents_this_hour, 1) - 1, 30)
    return min(growth.longest_hold_s, growth.hold_s * 2.0**doublings)


def learn(
    fit: int, fraction: float, plan: float, grows_from: float, growth: Growth
) -> Learned | None:
    """The deployment's capacity after a 429 met ``fit`` of our calls in the refused window.
    None when nothing can be learned: a replica without partitions is not pacing to a part.

    Never below ``growth.least`` of the plan: figures that far off the account are for an
    operator to fix (the share leaves the other integrations too little, and the alert on 429s
    fires), and a server that refuses calls for a reason other than the quota (a proxy, a fault)
    must not bring the service to a crawl."""
    if fraction <= 0:
        return None
    calls = fit * growth.kept / fraction
    return Learned(min(plan, max(growth.least * plan, 1.0, calls)), grows_from)


def fitted(learned: Learned, fit: int, fraction: float, plan: float, growth: Growth) -> Learned:
    """Calls in flight at the 429 that were then accepted fitted too: the capacity was larger."""
    if fraction <= 0:
        return learned
    calls = min(plan, fit * growth.kept / fraction)
    return Learned(max(learned.calls, calls), learned.grows_from)


def believed(plan: float, learned: Learned | None, now: float, growth: Growth) -> float:
    """The deployment's capacity in a window now: the plan's, or the learned one regrowing."""
    if learned is None:
        return plan
    if now < learned.grows_from:
        return learned.calls
    steps = 1 + math.floor((now - learned.grows_from) / MINUTE)
    return min(plan, learned.calls + steps * growth.step * plan)
