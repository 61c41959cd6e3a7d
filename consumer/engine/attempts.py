"""Trying one translation's requests until they are delivered or the policy gives up: waiting
while delivery is stopped or the circuit is open, retrying transient failures, starting over
from fresh answers when a remembered person turns out to be gone. Nothing is settled here: the
caller gets what it came to (``consumer.engine.results``) and settles the events itself."""

from __future__ import annotations

import asyncio
import random
import time

from consumer.engine.breaker import Breaker
from consumer.engine.chain import Chain, advance, forget
from consumer.engine.finishing import Finisher
from consumer.engine.outlets import Memory, Standing, finds_person
from consumer.engine.people import Holding
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
from consumer.engine.results import Delivered, Gone, Refused, Result, SplitIt, Suppressed
from consumer.engine.work import Work
from consumer.freshsales.answers import Caller
from consumer.freshsales.budget import Abandoned, abandon_when, waited_in_task
from translate import DestinationError, Step, Translation


class Attempts:
    def __init__(
        self,
        caller: Caller,
        standing: Standing,
        memory: Memory,
        *,
        policy: RetryPolicy,
        breaker: Breaker,
        done: Finisher,
    ) -> None:
        self._caller = caller
        self._standing = standing
        self._memory = memory
        self._policy = policy
        self._breaker = breaker
        self._done = done

    async def attempt(
        self, work: Work, translation: Translation, holding: Holding, *, merged: int = 0
    ) -> Result:
        """Send ``translation``'s requests, on the person ``holding`` holds (when known), until
        they are delivered or the policy gives up. ``merged``: how many other events it stands
        for (a refusal then splits them rather than dead-letters them all)."""
        chain = Chain(translation)
        if holding.record is not None:
            chain.records[Step.PERSON] = holding.record
            chain.remembered = True
        attempt = 0
        failing_since: float | None = None
        quota_wait_before = 0.0
        refreshed = False
        abandon_when(lambda: work.tracker.revoked)
        stats = self._done.stats
        while True:
            await self._standing.delivering.wait()
            if work.tracker.revoked:
                self._done.log(work, "abandoned", attempt=attempt)  # its new owner delivers it
                return Gone()
            pause = self._breaker.wait_s(time.monotonic())
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            attempt += 1
            calls_before = chain.calls
            try:
                await advance(
                    chain, self._caller, self._standing.lookups, self._memory.upserts, holding
                )
            except Abandoned:
                self._done.log(work, "abandoned", attempt=attempt)  # revoked while it waited
                return Gone()
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
                    merged=merged,
                )
                decision = decide(error, facts, self._policy, random.random())
                if isinstance(decision, Retry):
                    stats.retries += 1
                    self._done.log(
                        work, "retrying", attempt=attempt, error=error, delay_s=decision.delay_s
                    )
                    await asyncio.sleep(decision.delay_s)
                elif isinstance(decision, Refresh):
                    if holding.forgotten(translation):
                        return Suppressed()  # gone because they asked to be: never recreated
                    refreshed = True
                    forget(chain, self._memory.upserts)
                    await holding.lost()
                    chain = Chain(translation)
                    self._done.log(
                        work, "retrying", attempt=attempt, error=error, why="stale_memory"
                    )
                elif isinstance(decision, Split):
                    return SplitIt()
                elif isinstance(decision, DeadLetter):
                    return Refused(decision.reason, error, attempt)
                elif isinstance(decision, Stop):
                    failing_since = None  # a stopped service must not exhaust the retry window
                    self._standing.refused(decision.error)
            else:
                stats.calls += chain.calls - calls_before
                stats.lookups_saved += chain.lookups_saved
                stats.unchanged += chain.unchanged
                if chain.calls:
                    self._breaker.record(True, time.monotonic())
                return Delivered(chain, attempt)
