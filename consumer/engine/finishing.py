"""Settling an event: its offset released, its outcome counted, its one canonical log line.

A folded work settles every event it stands for: the first with the outcome of the call
(``delivered``, ``dead_lettered``…), the others ``coalesced`` (identifies merged into it) or
``folded`` (activities in its digest), each naming the offset it went out with.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from consumer.engine.stats import Stats
from consumer.engine.work import Member, Work
from consumer.errors import FreshsalesError
from consumer.logs import get_logger
from translate import DestinationError, Outcome

log = get_logger(__name__)


class Finisher:
    def __init__(self, progress: asyncio.Event) -> None:
        self._progress = progress
        self.stats = Stats()

    def finish(self, work: Work, outcome: str, **fields: object) -> None:
        """Settle ``work`` and everything folded into it."""
        members = work.members
        if len(members) > 1:
            if members[0].text is not None:
                fields["digest"] = len(members)
            else:
                fields["coalesced"] = len(members) - 1
        self.finish_one(work, outcome, **fields)
        for member in members[1:]:
            kind = "folded" if member.text is not None else "coalesced"
            self.finish_member(work, member, kind, into_offset=work.record.offset)
        if len(members) > 1 and members[0].text is not None:
            self.stats.digests += 1

    def finish_one(self, work: Work, outcome: str, **fields: object) -> None:
        """Settle the work's own event (the first of a folded work)."""
        kind = work.translation.type if work.translation else "invalid"
        if work.members:
            # A folded work's translation stands for all its events: the line names the first.
            first = work.members[0]
            kind = first.type
            fields = {"type": kind, "message_id": first.message_id, **fields}
        self._settle(work, work.record.offset, kind, work.fetched_at, outcome, fields)
        self.log(work, outcome, **fields)

    def finish_member(self, work: Work, member: Member, outcome: str, **fields: object) -> None:
        """Settle one event folded into ``work``, by itself: its line names its own type and
        messageId, not the work's first event's."""
        # A folded event's wait counts from the first of its digest (its own time is not kept).
        self._settle(work, member.offset, member.type, work.fetched_at, outcome, fields)
        own = {"offset": member.offset, "message_id": member.message_id, "type": member.type}
        self.log(work, outcome, **(own | fields))

    def settle_member(self, work: Work, member: Member, outcome: str) -> None:
        """Settle one event of ``work`` without a line of its own (its work logs one for all)."""
        self._settle(work, member.offset, member.type, work.fetched_at, outcome, {})

    def _settle(
        self,
        work: Work,
        offset: int,
        kind: str,
        fetched_at: float,
        outcome: str,
        fields: dict[str, object],
    ) -> None:
        work.tracker.finished(offset)
        self._progress.set()
        stats = self.stats
        if work.wake is not None:
            # The event was counted when it began to wait: this is what became of it.
            stats.after_wait[outcome] += 1
            stats.by_type[kind, outcome] += 1
            return
        stats.outcomes[outcome] += 1
        # What the user's filters kept out is their choice, not something unsupported: the
        # metric tells the two apart (the log line says it as the reason).
        filtered = fields.get("reason") == Outcome.FILTERED
        stats.by_type[kind, Outcome.FILTERED.value if filtered else outcome] += 1
        stats.latency.observe(time.monotonic() - fetched_at)

    def new_person_delivered(self, work: Work) -> None:
        """A new person reached Freshsales: how long after it was produced."""
        stamp = work.record.timestamp_ms
        if stamp and stamp > 0:
            waited = datetime.now(UTC).timestamp() - stamp / 1000
            self.stats.new_people.observe(max(0.0, waited))

    def log(self, work: Work, event: str, **fields: object) -> None:
        record, translation = work.record, work.translation
        error = fields.pop("error", None)
        if isinstance(error, FreshsalesError):
            fields |= {"status": error.status, "endpoint": error.endpoint}
        if isinstance(error, DestinationError):
            fields |= {"error_class": type(error).__name__, "error": str(error)[:500]}
        level = log.warning if event in ("retrying", "dead_lettered") else log.info
        line: dict[str, object] = {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "message_id": translation.message_id if translation else None,
            "type": translation.type if translation else None,
            "latency_ms": round((time.monotonic() - work.fetched_at) * 1000, 1),
        }
        level(event, **(line | fields))
