"""One event from fetched to finished: deliver it, retry it, or dead-letter it — then release its
offset. Decisions come from ``consumer.policy``; this module only carries them out.

An attempt holds one of ``MAX_IN_FLIGHT`` slots only while it talks to Freshsales, never while it
waits to retry, so a key that is backing off costs the others nothing.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka.errors import KafkaError

from consumer.breaker import Breaker
from consumer.chain import Caller, Chain, advance
from consumer.deadletter import Headers, Source, letter_headers
from consumer.identities import IdentityCache
from consumer.logs import get_logger
from consumer.offsets import PartitionOffsets
from consumer.policy import DeadLetter, Retry, RetryPolicy, Stop, decide
from translate import (
    BrokerError,
    DestinationError,
    FreshsalesError,
    Lookups,
    Outcome,
    Reason,
    Translation,
    TranslationError,
)

log = get_logger("consumer.delivery")
SendLetter = Callable[[str, bytes | None, bytes | None, Headers], Awaitable[None]]


@dataclass(slots=True)
class Work:
    """A fetched record and what translation made of it."""

    source: Source
    tracker: PartitionOffsets
    key: str
    translation: Translation | None
    error: TranslationError | None
    fetched_at: float = field(default_factory=time.monotonic)


@dataclass
class Stats:
    """Counters the demo prints and the metrics module exports."""

    outcomes: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    calls_saved: int = 0
    retries: int = 0

    @property
    def finished(self) -> int:
        return sum(self.outcomes.values())


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
        max_in_flight: int,
        on_fatal: Callable[[DestinationError], None],
        ready: asyncio.Event,
        progress: asyncio.Event | None = None,
    ) -> None:
        self._caller = caller
        self._send_letter = send_letter
        self._dlq_topic = dlq_topic
        self._lookups = lookups
        self._people = people
        self._policy = policy
        self._breaker = breaker
        self._slots = asyncio.Semaphore(max_in_flight)
        self._on_fatal = on_fatal
        self._ready = ready
        self._progress = progress or asyncio.Event()
        self.stats = Stats()

    async def handle(self, work: Work) -> None:
        if work.error is not None:
            await self._dead_letter(work, work.error.reason, work.error, attempts=0)
        elif work.translation is None or work.translation.outcome is not Outcome.DELIVER:
            outcome = work.translation.outcome.value if work.translation else "empty"
            self._finish(work, "skipped", why=outcome)
        else:
            await self._deliver(work, work.translation)

    async def _deliver(self, work: Work, translation: Translation) -> None:
        chain = Chain(translation)
        attempt = 0
        failing_since: float | None = None
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
                async with self._slots:
                    await advance(chain, self._caller, self._lookups(), self._people)
            except DestinationError as error:
                self.stats.calls += chain.calls - calls_before
                if isinstance(error, FreshsalesError):
                    self._breaker.record(not error.retriable, time.monotonic())
                now = time.monotonic()
                failing_since = failing_since if failing_since is not None else now
                decision = decide(
                    error,
                    attempt=attempt,
                    failing_for_s=now - failing_since,
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
                    await self._dead_letter(work, decision.reason, error, attempts=attempt)
                    return
                elif isinstance(decision, Stop):
                    failing_since = None  # a stopped service must not exhaust the retry window
                    self._on_fatal(decision.error)
            else:
                self.stats.calls += chain.calls - calls_before
                self.stats.calls_saved += chain.skipped
                if chain.calls:
                    self._breaker.record(True, time.monotonic())
                self._finish(work, "delivered", attempt=attempt, calls=chain.calls)
                return

    async def _dead_letter(
        self, work: Work, reason: Reason, error: DestinationError, *, attempts: int
    ) -> None:
        source = work.source
        headers = letter_headers(source, reason, error, attempts=attempts, at=datetime.now(UTC))
        delay = 0.5
        while True:
            try:
                await self._send_letter(self._dlq_topic, source.key, source.value, headers)
                break
            except BrokerError as exc:
                # The offset stays open until Kafka has the letter: nothing may be lost.
                self._log(work, "dead_letter_retrying", error=exc, delay_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        self.stats.dead_letters[reason.value] += 1
        self._finish(work, "dead_lettered", reason=reason.value, attempt=attempts, error=error)

    def _finish(self, work: Work, outcome: str, **fields: object) -> None:
        work.tracker.finished(work.source.offset)
        self._progress.set()
        self.stats.outcomes[outcome] += 1
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


def letter_sender(send: Callable[..., Awaitable[object]]) -> SendLetter:
    """Adapt a producer's ``send_and_wait`` so its failures become BrokerError (one boundary)."""

    async def send_letter(
        topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        try:
            await send(topic, value=value, key=key, headers=list(headers))
        except KafkaError as exc:
            raise BrokerError(f"dead-letter topic {topic}: {exc!r}") from exc

    return send_letter
