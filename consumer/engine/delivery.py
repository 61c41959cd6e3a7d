"""One event from fetched to finished: deliver it, retry it, or dead-letter it — then release its
offset. Decisions come from ``consumer.engine.policy``; this module only carries them out.

Calls in flight are bounded by the client's connection pool (``MAX_IN_FLIGHT``) and paced by the
quota budget; a key that waits to retry holds neither, so it costs the others nothing, and work
that needs no call (a known person, an unchanged upsert, a duplicate) never waits for the quota.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from consumer.engine.breaker import Breaker
from consumer.engine.chain import Chain, advance, forget
from consumer.engine.memory.identities import IdentityCache
from consumer.engine.memory.seen import SeenMessages
from consumer.engine.memory.unchanged import UpsertMemory
from consumer.engine.policy import (
    Attempt,
    DeadLetter,
    Refresh,
    Retry,
    RetryPolicy,
    Split,
    Stop,
    decide,
    health_signal,
)
from consumer.engine.source import Record
from consumer.engine.stats import Stats
from consumer.engine.work import Work
from consumer.errors import BrokerError, FreshsalesError
from consumer.freshsales.answers import Caller
from consumer.freshsales.budget import Abandoned, abandon_when, waited_in_task
from consumer.logs import get_logger
from translate import DestinationError, Lookups, Outcome, Reason, Step, Translation

log = get_logger(__name__)
# Activities are plain creates: these are the types whose messageIds are de-duplicated.
ACTIVITY_TYPES = frozenset({"track", "page", "screen"})


class Standing(Protocol):
    """The account as deliveries need it: its settings, and whether the key is accepted."""

    @property
    def lookups(self) -> Lookups: ...

    @property
    def delivering(self) -> asyncio.Event:
        """Set while deliveries may talk to Freshsales."""

    def refused(self, error: DestinationError) -> None:
        """A fatal answer (a refused key): stop delivering until the key works again."""


class Letters(Protocol):
    async def write(
        self, record: Record, reason: Reason, error: DestinationError, attempts: int
    ) -> None:
        """Return once the dead-letter topic has the letter (never gives up: nothing may be
        lost, the offset stays open meanwhile)."""


RecordDelivered = Callable[[str], Awaitable[None]]
"""Write a delivered activity's messageId to the ledger; raises BrokerError."""


@dataclass
class Memory:
    """What the engine remembers to spend fewer calls."""

    people: IdentityCache
    upserts: UpsertMemory | None
    seen: SeenMessages


class Deliverer:
    def __init__(
        self,
        caller: Caller,
        standing: Standing,
        memory: Memory,
        letters: Letters,
        record_delivered: RecordDelivered,
        *,
        policy: RetryPolicy,
        breaker: Breaker,
        progress: asyncio.Event,
    ) -> None:
        self._caller = caller
        self._standing = standing
        self._memory = memory
        self._letters = letters
        self._record_delivered = record_delivered
        self._policy = policy
        self._breaker = breaker
        self._progress = progress
        self.stats = Stats()

    async def handle(self, work: Work) -> None:
        if work.error is not None:
            await self._dead_letter(work, work.error.reason, work.error, attempts=0)
        elif work.translation is None or work.translation.outcome is not Outcome.DELIVER:
            outcome = work.translation.outcome.value if work.translation else "empty"
            self._finish(work, "skipped", reason=outcome)
        elif _activity_id(work.translation) in self._memory.seen:
            self._finish(work, "deduplicated")
        else:
            await self._deliver(work, work.translation)

    async def _deliver(self, work: Work, translation: Translation) -> None:
        chain = Chain(translation)
        attempt = 0
        failing_since: float | None = None
        quota_wait_before = 0.0
        refreshed = False
        abandon_when(lambda: work.tracker.revoked)
        memory = self._memory
        while True:
            await self._standing.delivering.wait()
            if work.tracker.revoked:
                self._log(work, "abandoned", attempt=attempt)  # its new owner delivers it
                return
            pause = self._breaker.wait_s(time.monotonic())
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            attempt += 1
            calls_before = chain.calls
            try:
                await advance(
                    chain, self._caller, self._standing.lookups, memory.people, memory.upserts
                )
            except Abandoned:
                self._log(work, "abandoned", attempt=attempt)  # revoked while waiting for quota
                return
            except DestinationError as error:
                self.stats.calls += chain.calls - calls_before
                now = time.monotonic()
                healthy = health_signal(error)
                if healthy is not None:
                    self._breaker.record(healthy, now)
                if failing_since is None:
                    failing_since, quota_wait_before = now, waited_in_task()
                waited = waited_in_task() - quota_wait_before
                facts = Attempt(
                    number=attempt,
                    failing_for_s=now - failing_since - waited,
                    remembered=chain.remembered,
                    can_refresh=not refreshed and _finds_person(translation),
                    merged=len(work.absorbed),
                )
                decision = decide(error, facts, self._policy, random.random())
                if isinstance(decision, Retry):
                    self.stats.retries += 1
                    self._log(
                        work, "retrying", attempt=attempt, error=error, delay_s=decision.delay_s
                    )
                    await asyncio.sleep(decision.delay_s)
                elif isinstance(decision, Refresh):
                    refreshed = True
                    forget(chain, memory.people, memory.upserts)
                    chain = Chain(translation)
                    self._log(work, "retrying", attempt=attempt, error=error, why="stale_memory")
                elif isinstance(decision, Split):
                    await self._deliver_apart(work)
                    return
                elif isinstance(decision, DeadLetter):
                    await self._dead_letter(work, decision.reason, error, attempts=attempt)
                    return
                elif isinstance(decision, Stop):
                    failing_since = None  # a stopped service must not exhaust the retry window
                    self._standing.refused(decision.error)
            else:
                self.stats.calls += chain.calls - calls_before
                await self._delivered(work, translation, chain, attempt)
                return

    async def _delivered(
        self, work: Work, translation: Translation, chain: Chain, attempt: int
    ) -> None:
        stats = self.stats
        stats.lookups_saved += chain.lookups_saved
        stats.unchanged += chain.unchanged
        if chain.calls:
            self._breaker.record(True, time.monotonic())
        await self._remember(work, translation)
        fields: dict[str, object] = {"attempt": attempt, "calls": chain.calls}
        if chain.unchanged:
            fields["unchanged"] = chain.unchanged
        # Why a trait did not reach Freshsales: the first question when a field is empty.
        if translation.ignored:
            fields["ignored"] = list(translation.ignored)
        if translation.notices:
            fields["notices"] = [f"{n.code}:{n.field}" for n in translation.notices]
        self._finish(work, "delivered", **fields)

    async def _deliver_apart(self, work: Work) -> None:
        self._log(work, "coalescing_undone", coalesced=len(work.absorbed))
        for each in work.all_sources():
            original = replace(each, absorbed=[])
            if each is work:  # the head carries the merged translation; retranslating is pure
                original = replace(work, absorbed=[], translation=work.original, event=None)
            assert original.translation is not None
            await self._deliver(original, original.translation)

    async def _remember(self, work: Work, translation: Translation) -> None:
        """Record a delivered activity's messageId, here and in the ledger, before its offset can
        be committed: after a crash it is read again and must not be sent twice."""
        message_id = _activity_id(translation)
        seen = self._memory.seen
        if message_id is None or not seen.enabled:
            return
        seen.add(message_id)
        try:
            await self._record_delivered(message_id)
        except BrokerError as exc:
            # Delivered all the same; only a crash before the next commit could repeat it.
            self._log(work, "ledger_write_failed", error=exc)

    async def _dead_letter(
        self, work: Work, reason: Reason, error: DestinationError, *, attempts: int
    ) -> None:
        # Folded events are dead-lettered one by one, each with its own original bytes.
        for each in work.all_sources():
            await self._letters.write(each.record, reason, error, attempts)
            self.stats.dead_letters[reason.value] += 1
            self._finish_one(
                each, "dead_lettered", reason=reason.value, attempt=attempts, error=error
            )

    def _finish(self, work: Work, outcome: str, **fields: object) -> None:
        if work.absorbed:
            fields["coalesced"] = len(work.absorbed)
        self._finish_one(work, outcome, **fields)
        for each in work.absorbed:
            self._finish_one(each, "coalesced", into_offset=work.record.offset)

    def _finish_one(self, work: Work, outcome: str, **fields: object) -> None:
        work.tracker.finished(work.record.offset)
        self._progress.set()
        stats = self.stats
        stats.outcomes[outcome] += 1
        kind = work.translation.type if work.translation else "invalid"
        # What the user's filters kept out is their choice, not something unsupported: the
        # metric tells the two apart (the log line says it as the reason).
        filtered = fields.get("reason") == Outcome.FILTERED
        stats.by_type[kind, Outcome.FILTERED.value if filtered else outcome] += 1
        stats.latency.observe(time.monotonic() - work.fetched_at)
        self._log(work, outcome, **fields)

    def _log(self, work: Work, event: str, **fields: object) -> None:
        record, translation = work.record, work.translation
        error = fields.pop("error", None)
        if isinstance(error, FreshsalesError):
            fields |= {"status": error.status, "endpoint": error.endpoint}
        if isinstance(error, DestinationError):
            fields |= {"error_class": type(error).__name__, "error": str(error)[:500]}
        level = log.warning if event in ("retrying", "dead_lettered") else log.info
        level(
            event,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            message_id=translation.message_id if translation else None,
            type=translation.type if translation else None,
            latency_ms=round((time.monotonic() - work.fetched_at) * 1000, 1),
            **fields,
        )


def _finds_person(translation: Translation) -> bool:
    # A person read by the id memory holds (a group without email) is not found by the event.
    return any(
        request.step is Step.PERSON and "{person." not in request.path
        for request in translation.requests
    )


def _activity_id(translation: Translation) -> str | None:
    return translation.message_id if translation.type in ACTIVITY_TYPES else None
