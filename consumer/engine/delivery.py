"""One piece of work from fetched to finished: deliver it, keep it waiting for its person, retry
it, or dead-letter it — then release its offsets. Decisions come from ``consumer.engine.policy``
and ``consumer.identity``; this module carries them out.

A piece of work is one event, or several folded into it while they waited (``folding``): merged
identifies go out as one upsert, activities as one digest, taken apart again when refused
(``unfolding``). Work the waiting room made — a visitor's history once they are known, or
events whose wait is over — goes to ``waking``; a deletion request to ``forgetting``.

Who the event is about is decided when its turn comes (``Identities.decide``): a person the
identity map knows, an email to find them by, or — nobody and no email — the event waits in the
waiting topic (its offset finished once Kafka has it) until an identify or alias names them.

Calls in flight are bounded by the client's pool (``MAX_IN_FLIGHT``) and paced by the quota
stage; a key that waits to retry holds neither, so it costs the others nothing, and work that
needs no call (a known person, an unchanged upsert, a duplicate) never waits for the quota. A
new person's calls take their turn before the others' (``prioritized``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from consumer.backoff import Backoff
from consumer.engine.attempts import Attempts
from consumer.engine.breaker import Breaker
from consumer.engine.finishing import Finisher
from consumer.engine.forgetting import Forgetter
from consumer.engine.keeping import Keeper
from consumer.engine.outlets import (
    Letters,
    Memory,
    RecordDelivered,
    Reread,
    Standing,
    WaitingLog,
    activity_id,
)
from consumer.engine.people import Holding, Identities
from consumer.engine.policy import RetryPolicy
from consumer.engine.results import Delivered, Refused, Result, SplitIt, Suppressed
from consumer.engine.source import Partition, Record
from consumer.engine.stats import Stats
from consumer.engine.unfolding import Unfolder
from consumer.engine.waking import Waker
from consumer.engine.work import Work
from consumer.errors import BrokerError
from consumer.freshsales.answers import Caller
from consumer.freshsales.budget import NORMAL, URGENT, prioritized
from consumer.identity.decide import Deliver, Suppress, Wait
from consumer.logs import get_logger
from translate import (
    DestinationError,
    Flavor,
    Options,
    Outcome,
    Reason,
    Translation,
    translate_identify,
)

log = get_logger(__name__)
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
        identities: Identities,
        waiting: WaitingLog,
        policy: RetryPolicy,
        breaker: Breaker,
        progress: asyncio.Event,
        options: Callable[[], Options] = Options,
        reread: Reread | None = None,
        put_back: Callable[[Work], None] = lambda work: None,
        digest_limits: tuple[int, int] = (50, 10_000),
        flavor: Flavor = Flavor.SUITE,
    ) -> None:
        """``put_back``: the waiting room's, for woken events whose person is gone again.
        ``digest_limits``: events and characters of notes a digest holds at most."""
        self._caller = caller
        self._standing = standing
        self._memory = memory
        self.letters = letters
        self._record_delivered = record_delivered
        self.identities = identities
        self.waiting = waiting
        self._policy = policy
        self._breaker = breaker
        self.options = options
        self._reread = reread
        self.done = Finisher(progress)
        self.digest_limits = digest_limits
        self._attempts = Attempts(
            caller, standing, memory, policy=policy, breaker=breaker, done=self.done
        )
        self._keeper = Keeper(self)
        self._unfolder = Unfolder(self)
        self._waker = Waker(self, put_back)
        self._forgetter = Forgetter(
            caller, identities, flavor, policy, key_refused=self._key_refused
        )

    @property
    def stats(self) -> Stats:
        return self.done.stats

    @property
    def memory(self) -> Memory:
        return self._memory

    def priority(self, work: Work) -> int:
        """A person not delivered yet (an identify or group of nobody the identity map knows)
        goes first: a sales team wants its new leads now, the page views can wait. A deletion
        request too: a legal deadline."""
        t = work.original or work.translation
        if t is not None and t.outcome is Outcome.FORGET:
            return URGENT
        if t is not None and t.type in _NEW_PERSON_TYPES and self.identities.is_new(t):
            return URGENT
        return NORMAL

    async def _key_refused(self, error: DestinationError) -> bool:
        """A deletion request met a refused key (401): delivery stops as for any call, and the
        request is tried again once the key is accepted."""
        self._standing.refused(error)
        await self._standing.delivering.wait()
        return True

    async def handle(self, work: Work) -> None:
        if work.wake is not None:
            prioritized(NORMAL)
            await self._waker.wake(work)
            return
        urgent = self.priority(work) == URGENT
        prioritized(URGENT if urgent else NORMAL)
        t = work.translation
        if work.error is not None:
            await self.dead_letter(work, work.error.reason, work.error, attempts=0)
        elif work.members:
            await self._unfolder.folded(work, urgent)
        elif t is not None and t.outcome is Outcome.LINK:
            await self._keeper.link(work, t)
        elif t is not None and t.outcome is Outcome.FORGET:
            await self._forget(work, t)
        elif t is None or t.outcome is not Outcome.DELIVER:
            outcome = t.outcome.value if t else "empty"
            self.done.finish(work, "skipped", reason=outcome)
        elif activity_id(t) in self._memory.seen:
            self.done.finish(work, "deduplicated")
        else:
            await self.decided(work, t, urgent)

    async def decided(self, work: Work, translation: Translation, urgent: bool) -> None:
        decision = self.identities.decide(translation)
        if isinstance(decision, Suppress):
            self.done.finish(work, "suppressed")
        elif isinstance(decision, Wait):
            await self._keeper.keep(work, translation, decision)
        elif await self._deliver(work, translation, decision) and urgent:
            self.done.new_person_delivered(work)

    async def _forget(self, work: Work, translation: Translation) -> None:
        """A deletion request: erase the person, suppress their identities (``forgetting``)."""
        report = await self._forgetter.forget(
            translation.names, abandoned=lambda: work.tracker.revoked
        )
        self.stats.forgets[report.outcome] += 1
        audit = report.fields()
        audit["forget"] = audit.pop("outcome")
        for own in ("reason", "error"):  # the dead-letter line's own fields, below
            audit.pop(own, None)
        if report.abandoned:
            self.done.log(work, "abandoned")  # its partition's new owner carries it out
        elif report.reason is not None and report.error is not None:
            await self.letters.write(work.record, report.reason, report.error, 1)
            self.stats.dead_letters[report.reason.value] += 1
            self.done.finish_one(
                work,
                "dead_lettered",
                reason=report.reason.value,
                error=report.error,
                **audit,
            )
        else:
            self.done.finish(work, "forgotten", **audit)

    async def _deliver(self, work: Work, translation: Translation, decision: Deliver) -> bool:
        """Deliver ``work`` (settling it either way); True when it was delivered."""
        if decision.by_id and work.event is not None:
            translation = translate_identify(work.event, self.options(), by_id=True)
        holding = await self.identities.hold(translation, decision)
        try:
            if holding.suppressed:  # a deletion request came while it waited for the locks
                self.done.finish(work, "suppressed")
                return False
            result = await self.attempt(
                work, translation, holding, merged=max(0, len(work.members) - 1)
            )
            if isinstance(result, Suppressed):
                self.done.finish(work, "suppressed")
                return False
            if isinstance(result, Delivered):
                conflicts = await holding.settle(translation, by_id=decision.by_id)
                await self._delivered(work, translation, result, conflicts)
                return True
            if isinstance(result, Refused):
                await holding.settle(translation, by_id=decision.by_id)
                await self.dead_letter(work, result.reason, result.error, attempts=result.attempt)
            elif isinstance(result, SplitIt):
                holding.release()
                await self._unfolder.apart(work)
            return False
        finally:
            holding.release()

    async def attempt(
        self, work: Work, translation: Translation, holding: Holding, *, merged: int = 0
    ) -> Result:
        """``Attempts.attempt``: nothing settled."""
        return await self._attempts.attempt(work, translation, holding, merged=merged)

    async def _delivered(
        self, work: Work, translation: Translation, result: Delivered, conflicts: tuple[bytes, ...]
    ) -> None:
        chain = result.chain
        await self._remember(work, translation)
        fields: dict[str, object] = {"attempt": result.attempt, "calls": chain.calls}
        if chain.unchanged:
            fields["unchanged"] = chain.unchanged
        # Why a trait did not reach Freshsales: the first question when a field is empty.
        if translation.ignored:
            fields["ignored"] = list(translation.ignored)
        if translation.notices:
            fields["notices"] = [f"{n.code}:{n.field}" for n in translation.notices]
        if conflicts:
            # First identification wins: the anonymousId stays with whoever had it first.
            fields["link_conflicts"] = [k.hex()[:12] for k in conflicts]
        self.done.finish(work, "delivered", **fields)

    async def record_at(self, work: Work, offset: int) -> Record:
        """The record at ``offset`` of ``work``'s partition: its own, or read again."""
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
                    self.done.log(work, "reread_retrying", offset=offset, error=exc, delay_s=delay)
                    await asyncio.sleep(delay)
        return found or Record(work.record.topic, work.record.partition, offset, None, None)

    async def _remember(self, work: Work, translation: Translation) -> None:
        """Record delivered activities' messageIds, here and in the ledger, before their offsets
        can be committed: after a crash they are read again and must not be sent twice."""
        if work.members and work.members[0].text is not None:
            ids = [m.message_id for m in work.members if m.message_id is not None]
        else:
            ids = [i for i in (activity_id(translation),) if i is not None]
        await self.remember(work, ids)

    async def remember(self, work: Work, ids: list[str]) -> None:
        seen = self._memory.seen
        if not seen.enabled:
            return
        for message_id in ids:
            seen.add(message_id)
        try:
            await asyncio.gather(*(self._record_delivered(i) for i in ids))
        except BrokerError as exc:
            # Delivered all the same; only a crash before the next commit could repeat it.
            self.done.log(work, "ledger_write_failed", error=exc)

    async def dead_letter(
        self, work: Work, reason: Reason, error: DestinationError, *, attempts: int
    ) -> None:
        # Folded events are dead-lettered one by one, each with its own original bytes.
        if not work.members:
            await self.letters.write(work.record, reason, error, attempts)
            self.stats.dead_letters[reason.value] += 1
            self.done.finish_one(
                work, "dead_lettered", reason=reason.value, attempt=attempts, error=error
            )
            return
        for member in work.members:
            record = await self.record_at(work, member.offset)
            await self.letters.write(record, reason, error, attempts)
            self.stats.dead_letters[reason.value] += 1
            self.done.finish_member(
                work, member, "dead_lettered", reason=reason.value, attempt=attempts, error=error
            )
