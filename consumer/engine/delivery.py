"""One piece of work from fetched to finished: deliver it, retry it, or dead-letter it — then
release its offsets. Decisions come from ``consumer.engine.policy``; this module carries them out.

A piece of work is one event, or several folded into it while they waited (``folding``): merged
identifies go out as one upsert, activities as one digest. When Freshsales refuses what stands
for several, they are split (``apart``) so that only an event at fault is dead-lettered.

Calls in flight are bounded by the client's pool (``MAX_IN_FLIGHT``) and paced by the quota
stage; a key that waits to retry holds neither, so it costs the others nothing, and work that
needs no call (a known person, an unchanged upsert, a duplicate) never waits for the quota. A
new person's calls take their turn before the others' (``prioritized``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from consumer.backoff import Backoff
from consumer.engine import apart
from consumer.engine.breaker import Breaker
from consumer.engine.chain import Chain, advance, forget
from consumer.engine.finishing import Finisher
from consumer.engine.folding import digest_translation, merged_translation
from consumer.engine.outlets import (
    Letters,
    Memory,
    RecordDelivered,
    Reread,
    Standing,
    activity_id,
    finds_person,
)
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
from consumer.engine.source import Partition, Record
from consumer.engine.stats import Stats
from consumer.engine.work import Work
from consumer.errors import BrokerError
from consumer.freshsales.answers import Caller
from consumer.freshsales.budget import (
    NORMAL,
    URGENT,
    Abandoned,
    abandon_when,
    prioritized,
    waited_in_task,
)
from translate import DestinationError, Options, Outcome, Reason, Translation

_NEW_PERSON_TYPES = frozenset({"identify", "group"})
REREAD_BACKOFF = Backoff(1.0, 30.0)
"""Reading a folded event again while Kafka cannot answer: its offset stays open meanwhile."""


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
        options: Callable[[], Options] = Options,
        reread: Reread | None = None,
    ) -> None:
        self._caller = caller
        self._standing = standing
        self._memory = memory
        self._letters = letters
        self._record_delivered = record_delivered
        self._policy = policy
        self._breaker = breaker
        self._options = options
        self._reread = reread
        self._done = Finisher(progress)

    @property
    def stats(self) -> Stats:
        return self._done.stats

    def priority(self, work: Work) -> int:
        """A person not delivered yet (an identify or group the identity cache does not know)
        goes first: a sales team wants its new leads now, the page views can wait."""
        t = work.original or work.translation
        if (
            t is not None
            and t.type in _NEW_PERSON_TYPES
            and self._memory.people.get(t.identity) is None
        ):
            return URGENT
        return NORMAL

    async def handle(self, work: Work) -> None:
        urgent = self.priority(work) == URGENT
        prioritized(URGENT if urgent else NORMAL)
        if work.error is not None:
            await self._dead_letter(work, work.error.reason, work.error, attempts=0)
        elif work.members:
            await self._folded(work)
        elif work.translation is None or work.translation.outcome is not Outcome.DELIVER:
            outcome = work.translation.outcome.value if work.translation else "empty"
            self._done.finish(work, "skipped", reason=outcome)
        elif activity_id(work.translation) in self._memory.seen:
            self._done.finish(work, "deduplicated")
        elif await self._deliver(work, work.translation) and urgent:
            self._done.new_person_delivered(work)

    async def _folded(self, work: Work) -> None:
        options = self._options()
        if work.members[0].text is None:  # merged identifies
            merged = merged_translation(work, options)
            if merged is None:
                await self._deliver_apart(work)  # each was valid alone: one by one, no guessing
            elif await self._deliver(work, merged) and self.priority(work) == URGENT:
                self._done.new_person_delivered(work)
            return
        # A digest: what was delivered before (a replay, a restart), or is in it twice, is sent
        # once at most.
        seen, fresh, ids = self._memory.seen, [], set()
        for member in work.members:
            mid = member.message_id
            if mid is not None and (mid in seen or mid in ids):
                self._done.finish_member(work, member, "deduplicated")
                continue
            fresh.append(member)
            if mid is not None:
                ids.add(mid)
        if len(fresh) == 1:
            await self._alone(work, fresh[0].offset)
        elif fresh:
            part = apart.part(work, fresh)
            await self._deliver(part, digest_translation(part, fresh, options))

    async def _deliver(self, work: Work, translation: Translation) -> bool:
        """Deliver ``work`` (settling it either way); True when it was delivered."""
        chain = Chain(translation)
        attempt = 0
        failing_since: float | None = None
        quota_wait_before = 0.0
        refreshed = False
        abandon_when(lambda: work.tracker.revoked)
        memory = self._memory
        stats = self.stats
        while True:
            await self._standing.delivering.wait()
            if work.tracker.revoked:
                self._done.log(work, "abandoned", attempt=attempt)  # its new owner delivers it
                return False
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
                self._done.log(work, "abandoned", attempt=attempt)  # revoked while it waited
                return False
            except DestinationError as error:
                stats.calls += chain.calls - calls_before
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
                    can_refresh=not refreshed and finds_person(translation),
                    merged=max(0, len(work.members) - 1),
                )
                decision = decide(error, facts, self._policy, random.random())
                if isinstance(decision, Retry):
                    stats.retries += 1
                    self._done.log(
                        work, "retrying", attempt=attempt, error=error, delay_s=decision.delay_s
                    )
                    await asyncio.sleep(decision.delay_s)
                elif isinstance(decision, Refresh):
                    refreshed = True
                    forget(chain, memory.people, memory.upserts)
                    chain = Chain(translation)
                    self._done.log(
                        work, "retrying", attempt=attempt, error=error, why="stale_memory"
                    )
                elif isinstance(decision, Split):
                    await self._deliver_apart(work)
                    return False
                elif isinstance(decision, DeadLetter):
                    await self._dead_letter(work, decision.reason, error, attempts=attempt)
                    return False
                elif isinstance(decision, Stop):
                    failing_since = None  # a stopped service must not exhaust the retry window
                    self._standing.refused(decision.error)
            else:
                stats.calls += chain.calls - calls_before
                await self._delivered(work, translation, chain, attempt)
                return True

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
        self._done.finish(work, "delivered", **fields)

    async def _deliver_apart(self, work: Work) -> None:
        """What stood for several, refused: each identify on its own; a digest in halves, down
        to single events, so that only the one at fault is dead-lettered."""
        self._done.log(work, "coalescing_undone", coalesced=len(work.members) - 1)
        if work.members[0].text is None:
            for member in work.members:
                if member is work.members[0] and work.original is not None:
                    await self._deliver(apart.first(work), work.original)
                else:
                    await self._alone(work, member.offset)
            return
        options = self._options()
        for half in apart.halves(work.members):
            if len(half) == 1:
                await self._alone(work, half[0].offset)
            else:
                part = apart.part(work, half)
                await self._deliver(part, digest_translation(part, half, options))

    async def _alone(self, work: Work, offset: int) -> None:
        """One event of a folded work, read again and sent on its own."""
        record = await self._record_at(work, offset)
        await self.handle(apart.alone(work, record, self._options()))

    async def _record_at(self, work: Work, offset: int) -> Record:
        if offset == work.record.offset and work.record.value is not None:
            return work.record
        partition = Partition(work.record.topic, work.record.partition)
        found = None
        if self._reread is not None:
            delays = REREAD_BACKOFF.delays()
            while True:
                try:
                    found = await self._reread(partition, offset)
                    break
                except BrokerError as exc:
                    delay = next(delays)
                    self._done.log(work, "reread_retrying", offset=offset, error=exc, delay_s=delay)
                    await asyncio.sleep(delay)
        return found or Record(work.record.topic, work.record.partition, offset, None, None)

    async def _remember(self, work: Work, translation: Translation) -> None:
        """Record delivered activities' messageIds, here and in the ledger, before their offsets
        can be committed: after a crash they are read again and must not be sent twice."""
        seen = self._memory.seen
        if not seen.enabled:
            return
        if work.members and work.members[0].text is not None:
            ids = [m.message_id for m in work.members if m.message_id is not None]
        else:
            ids = [i for i in (activity_id(translation),) if i is not None]
        for message_id in ids:
            seen.add(message_id)
        try:
            await asyncio.gather(*(self._record_delivered(i) for i in ids))
        except BrokerError as exc:
            # Delivered all the same; only a crash before the next commit could repeat it.
            self._done.log(work, "ledger_write_failed", error=exc)

    async def _dead_letter(
        self, work: Work, reason: Reason, error: DestinationError, *, attempts: int
    ) -> None:
        # Folded events are dead-lettered one by one, each with its own original bytes.
        if not work.members:
            await self._letters.write(work.record, reason, error, attempts)
            self.stats.dead_letters[reason.value] += 1
            self._done.finish_one(
                work, "dead_lettered", reason=reason.value, attempt=attempts, error=error
            )
            return
        for member in work.members:
            record = await self._record_at(work, member.offset)
            await self._letters.write(record, reason, error, attempts)
            self.stats.dead_letters[reason.value] += 1
            self._done.finish_member(
                work, member, "dead_lettered", reason=reason.value, attempt=attempts, error=error
            )
