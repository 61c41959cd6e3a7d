"""One event from fetched to finished: deliver it, retry it, or dead-letter it — then release its
offset. Decisions come from ``consumer.policy``; this module only carries them out.

Calls in flight are bounded by the client's connection pool (``MAX_IN_FLIGHT``) and paced by the
quota budget inside the client; a key that waits to retry holds neither, so it costs the others
nothing, and work that needs no call (a known person, an unchanged upsert, a duplicate) never
waits for the quota at all.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from consumer.breaker import Breaker
from consumer.budget import Abandoned, abandon_when, waited_in_task
from consumer.chain import Caller, Chain, advance, forget
from consumer.deadletter import PREFIX, Headers, letter_headers
from consumer.dedupe import SeenMessages
from consumer.identities import IdentityCache
from consumer.logs import get_logger
from consumer.policy import DeadLetter, Retry, RetryPolicy, Stop, decide
from consumer.unchanged import UpsertMemory
from consumer.work import Stats, Work
from translate import (
    BrokerError,
    DestinationError,
    FreshsalesError,
    Lookups,
    Outcome,
    OversizedRecord,
    RateLimited,
    Reason,
    Step,
    Translation,
)

log = get_logger("consumer.delivery")
SendLetter = Callable[[str, bytes | None, bytes | None, Headers], Awaitable[None]]
RecordDelivered = Callable[[str], Awaitable[None]]
# Activities are plain creates: these are the types whose messageIds are de-duplicated.
ACTIVITY_TYPES = frozenset({"track", "page", "screen"})


class Deliverer:
    def __init__(
        self,
        caller: Caller,
        send_letter: SendLetter,
        *,
        dlq_topic: str,
        lookups: Callable[[], Lookups],
        people: IdentityCache,
        policy: RetryPolicy,
        breaker: Breaker,
        on_fatal: Callable[[DestinationError], None],
        ready: asyncio.Event,
        progress: asyncio.Event | None = None,
        upserts: UpsertMemory | None = None,
        seen: SeenMessages | None = None,
        record_delivered: RecordDelivered | None = None,
        prepare: Callable[[Work], Work] | None = None,
    ) -> None:
        self._caller = caller
        self._send_letter = send_letter
        self._dlq_topic = dlq_topic
        self._lookups = lookups
        self._people = people
        self._policy = policy
        self._breaker = breaker
        self._on_fatal = on_fatal
        self._ready = ready
        self._progress = progress or asyncio.Event()
        self._upserts = upserts
        self._seen = seen if seen is not None else SeenMessages(0)
        self._record_delivered = record_delivered
        self._prepare = prepare
        self.stats = Stats()

    async def handle(self, work: Work) -> None:
        if work.error is not None:
            await self._dead_letter(work, work.error.reason, work.error, attempts=0)
        elif work.translation is None or work.translation.outcome is not Outcome.DELIVER:
            outcome = work.translation.outcome.value if work.translation else "empty"
            self._finish(work, "skipped", reason=outcome)
        elif _activity_id(work.translation) in self._seen:
            self._finish(work, "deduplicated")
        else:
            if self._prepare is not None:
                work = self._prepare(work)
            assert work.translation is not None
            await self._deliver(work, work.translation)

    async def _deliver(self, work: Work, translation: Translation) -> None:
        chain = Chain(translation)
        attempt = 0
        failing_since: float | None = None
        quota_wait_before = 0.0
        refreshed = False
        abandon_when(lambda: work.tracker.revoked)
        while True:
            await self._ready.wait()
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
                await advance(chain, self._caller, self._lookups(), self._people, self._upserts)
            except Abandoned:
                self._log(work, "abandoned", attempt=attempt)  # revoked while waiting for quota
                return
            except DestinationError as error:
                self.stats.calls += chain.calls - calls_before
                # A 429 says nothing about Freshsales' health: the quota budget handles it.
                if isinstance(error, FreshsalesError) and not isinstance(error, RateLimited):
                    self._breaker.record(not error.retriable, time.monotonic())
                now = time.monotonic()
                if failing_since is None:
                    failing_since, quota_wait_before = now, waited_in_task()
                decision = decide(
                    error,
                    attempt=attempt,
                    failing_for_s=now - failing_since - (waited_in_task() - quota_wait_before),
                    policy=self._policy,
                    jitter=random.random(),
                )
                if isinstance(decision, Retry):
                    self.stats.retries += 1
                    self._log(
                        work, "retrying", attempt=attempt, error=error, delay_s=decision.delay_s
                    )
                    await asyncio.sleep(decision.delay_s)
                elif isinstance(decision, DeadLetter):
                    if (
                        not refreshed
                        and decision.reason is Reason.REJECTED
                        and chain.remembered
                        and _finds_person(translation)
                    ):
                        # Refused with an id from memory: maybe the record was deleted in
                        # Freshsales since. Once, start over from fresh answers — only when the
                        # event itself says who the person is (else forgetting loses them).
                        refreshed = True
                        forget(chain, self._people, self._upserts)
                        chain = Chain(translation)
                        self._log(
                            work, "retrying", attempt=attempt, error=error, why="stale_memory"
                        )
                        continue
                    if work.absorbed and decision.reason is Reason.REJECTED:
                        # Maybe one of the merged identifies is at fault: each on its own, so
                        # only that one is dead-lettered.
                        await self._deliver_apart(work)
                    else:
                        await self._dead_letter(work, decision.reason, error, attempts=attempt)
                    return
                elif isinstance(decision, Stop):
                    failing_since = None  # a stopped service must not exhaust the retry window
                    self._on_fatal(decision.error)
            else:
                self.stats.calls += chain.calls - calls_before
                self.stats.calls_saved += chain.skipped
                self.stats.unchanged += chain.unchanged
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
                return

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
        if message_id is None or not self._seen.enabled:
            return
        self._seen.add(message_id)
        if self._record_delivered is None:
            return
        try:
            await self._record_delivered(message_id)
        except BrokerError as exc:
            # Delivered all the same; only a crash before the next commit could repeat it.
            self._log(work, "ledger_write_failed", error=exc)

    async def _dead_letter(
        self, work: Work, reason: Reason, error: DestinationError, *, attempts: int
    ) -> None:
        # Merged identifies are dead-lettered one by one, each with its own original bytes.
        for each in work.all_sources():
            await self._send_dead_letter(each, reason, error, attempts)
            self.stats.dead_letters[reason.value] += 1
            self._finish_one(
                each, "dead_lettered", reason=reason.value, attempt=attempts, error=error
            )

    async def _send_dead_letter(
        self, work: Work, reason: Reason, error: DestinationError, attempts: int
    ) -> None:
        source = work.source
        headers = letter_headers(source, reason, error, attempts=attempts, at=datetime.now(UTC))
        value = source.value
        delay = 0.5
        while True:
            try:
                await self._send_letter(self._dlq_topic, source.key, value, headers)
                return
            except BrokerError as exc:
                if not exc.retriable and value is not None:
                    # Too large for Kafka: the letter goes without the value (the original
                    # stays in the source topic at the offset the headers name).
                    self._log(work, "dead_letter_value_dropped", size=len(value), error=exc)
                    headers = [*headers, (PREFIX + "value-dropped", str(len(value)).encode())]
                    value = None
                    continue
                # The offset stays open until Kafka has the letter: nothing may be lost.
                self._log(work, "dead_letter_retrying", error=exc, delay_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _finish(self, work: Work, outcome: str, **fields: object) -> None:
        if work.absorbed:
            fields["coalesced"] = len(work.absorbed)
        self._finish_one(work, outcome, **fields)
        for each in work.absorbed:
            self._finish_one(each, "coalesced", into_offset=work.source.offset)

    def _finish_one(self, work: Work, outcome: str, **fields: object) -> None:
        work.tracker.finished(work.source.offset)
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
        source, translation = work.source, work.translation
        error = fields.pop("error", None)
        if isinstance(error, FreshsalesError):
            fields |= {"status": error.status, "endpoint": error.endpoint}
        if isinstance(error, DestinationError):
            fields |= {"error_class": type(error).__name__, "error": str(error)[:500]}
        level = log.warning if event in ("retrying", "dead_lettered") else log.info
        level(
            event,
            topic=source.topic,
            partition=source.partition,
            offset=source.offset,
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


def letter_sender(send: Callable[..., Awaitable[object]]) -> SendLetter:
    """Adapt a producer's ``send_and_wait`` so its failures become BrokerError (one boundary)."""

    async def send_letter(
        topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        try:
            await send(topic, value=value, key=key, headers=list(headers))
        except MessageSizeTooLargeError as exc:
            raise OversizedRecord(f"dead-letter topic {topic}: {exc!r}") from exc
        except KafkaError as exc:
            raise BrokerError(f"dead-letter topic {topic}: {exc!r}") from exc

    return send_letter
