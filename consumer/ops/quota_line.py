"""The periodic quota line: what the quota allows, what it is spent on, and how long the backlog
takes at this rate — the numbers an operator needs to tell "slow" from "stuck" at a glance."""

from __future__ import annotations

import asyncio

from consumer.engine.stats import Stats
from consumer.freshsales.quota import QuotaState, drain_eta_s
from consumer.logs import get_logger
from consumer.ops.observed import Observed, backlog, waiting

log = get_logger(__name__)


def quota_fields(
    state: QuotaState,
    stats: Stats,
    *,
    waited_s: float,
    backlog: int | None,
    calls_per_hour: float,
    folded_waiting: int = 0,
    people_known: int = 0,
    waiting: tuple[int, int] = (0, 0),
    link_conflicts: int = 0,
) -> dict[str, object]:
    """The quota line's fields (pure: a snapshot in, a flat mapping out)."""
    per_event = stats.calls_per_event
    eta = drain_eta_s(backlog, per_event, calls_per_hour) if backlog is not None else None
    return {
        "minute_used": state.minute.used,
        "minute_remaining": state.minute.remaining,
        "minute_limit": state.minute.limit,
        "hour_used": state.hour.used,
        "hour_remaining": state.hour.remaining,
        "hour_limit": state.hour.limit,
        "others_reported": state.hour.others + state.minute.others,
        "share": round(state.share, 4),
        "minute_capacity": state.minute.capacity,
        "hour_capacity": state.hour.capacity,
        "rate_factor": round(state.factor, 2),
        "paused_s": round(state.paused_for_s, 1),
        "probing": state.probing,
        "rate_limited": state.rate_limited,
        "rate_limit_incidents": state.incidents,
        "waited_s": round(waited_s, 1),
        "calls": stats.calls,
        "calls_per_event": round(per_event, 3),
        "events_per_call": round(stats.events_per_call, 2),
        "digests": stats.digests,
        "folded": stats.outcomes["folded"],
        "folded_waiting": folded_waiting,
        "skipped_unchanged": stats.unchanged,
        "lookups_saved": stats.lookups_saved,
        "coalesced": stats.outcomes["coalesced"],
        "deduplicated": stats.outcomes["deduplicated"],
        "backlog": backlog,
        "drain_eta_s": round(eta) if eta is not None else None,
        "people_known": people_known,
        "waiting_events": waiting[0],
        "waiting_identities": waiting[1],
        "stitched": stats.after_wait["stitched"],
        "expired": stats.after_wait["expired"],
        "link_conflicts": link_conflicts,
        "forgotten": stats.forgets["forgotten"],
        "suppressed": stats.outcomes["suppressed"] + stats.after_wait["suppressed"],
    }


class QuotaLine:
    """Writes the ``quota`` log line every ``interval_s`` (0: only when asked, at shutdown)."""

    def __init__(self, service: Observed, *, interval_s: float) -> None:
        self._service = service
        self._interval_s = interval_s

    async def run(self) -> None:
        if self._interval_s <= 0:
            return
        while True:
            await asyncio.sleep(self._interval_s)
            self.log()

    def log(self) -> None:
        service = self._service
        budget = service.budget
        log.info(
            "quota",
            **quota_fields(
                budget.state(),
                service.stats,
                waited_s=budget.waited_s,
                backlog=backlog(service),
                calls_per_hour=budget.calls_per_hour(),
                folded_waiting=service.engine.dispatcher.folded if service.engine else 0,
                people_known=len(service.book),
                waiting=waiting(service),
                link_conflicts=service.book.conflicts,
            ),
        )
