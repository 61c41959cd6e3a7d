"""The account's standing: read at start-up, refreshed now and then, and whether the key is
accepted — a refused key stops delivery (not-ready) until a re-check finds it accepted again.

``consumer.freshsales.account`` says what to read, ``consumer.freshsales.reading`` what a failed
read means; this carries both out over time.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Mapping
from dataclasses import replace

from consumer.backoff import Backoff
from consumer.errors import ConfigurationError
from consumer.freshsales.account import Account, Read, Wanted, assemble, reads, resolve, selectors
from consumer.freshsales.paced import PacedCaller
from consumer.freshsales.reading import (
    Again,
    ReadPolicy,
    Verdict,
    Without,
    after_failure,
    refresh_in_s,
    verdict,
)
from consumer.logs import get_logger
from translate import DestinationError, Lookups, Options

log = get_logger(__name__)


class AccountStanding:
    def __init__(
        self,
        caller: PacedCaller,
        wanted: Wanted,
        options: Options,
        *,
        recheck_interval_s: float,
        refresh_interval_s: float,
    ) -> None:
        """``options``: translation options as configured; the account's catalog joins them."""
        self._caller = caller
        self._wanted = wanted
        self._configured = options
        self._recheck_interval_s = recheck_interval_s
        self._policy = ReadPolicy(
            slow=Backoff(1.0, recheck_interval_s), refresh_s=refresh_interval_s
        )
        self.key_accepted = False
        self.refusal: str | None = None
        """Why delivery is stopped (a refused key), or None."""
        self.waiting: str | None = None
        """What the start-up reads are waiting for (the read being retried, its last error)."""
        self._lookups: Lookups = {}
        self.options = options
        self._answers: dict[str, Mapping[str, object]] = {}
        self._without: dict[str, str] = {}
        self._calls = 0
        self._delivering = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()

    @property
    def lookups(self) -> Lookups:
        return self._lookups

    @property
    def delivering(self) -> asyncio.Event:
        """Set while deliveries may talk to Freshsales: cleared by a refused key."""
        return self._delivering

    def use(self, account: Account) -> None:
        """Account settings and catalog for everything translated or delivered from now on."""
        self._lookups = account.lookups
        self.options = replace(
            self._configured, catalog=account.catalog, industry_types=account.industry_types
        )

    async def read(self, stop: asyncio.Event) -> bool:
        """Read the account, each read retried on its own until it is answered (or refused for
        good, when the service can do without it), or until ``stop``: False when stopped first.
        Raises ConfigurationError when a configured name does not exist."""
        every = reads(self._wanted)
        if not await self._read_each([one for one in every if not one.optional], stop):
            return False
        # A configured name the account lacks stops the start (exit 2) before the rest is read.
        resolve(selectors(self._answers), self._wanted)
        if not await self._read_each([one for one in every if one.optional], stop):
            return False
        account = assemble(self._answers, self._wanted, calls=self._calls, without=self._without)
        self.key_accepted, self.refusal, self.waiting = True, None, None
        log.info(
            "account_read",
            calls=account.calls,
            lookups=len(account.lookups),
            without=sorted(self._without),
        )
        self.use(account)
        self._delivering.set()
        return True

    async def _read_each(self, todo: list[Read], stop: asyncio.Event) -> bool:
        for one in todo:
            if not await self._read_until_done(one, stop):
                return False
        return True

    async def _read_until_done(self, one: Read, stop: asyncio.Event) -> bool:
        """Read ``one`` until it is answered or refused for good (optional reads only); False
        when ``stop`` comes first. What other reads answered is kept meanwhile."""
        attempt, first_failure = 0, 0.0
        while not stop.is_set():
            self._calls += 1
            try:
                self._answers[one.path] = (await self._caller.call("GET", one.path)).body
            except DestinationError as error:
                failure = error
            else:
                # Answered: a refusal met by an earlier try is over.
                self.refusal = self.waiting = None
                return True
            attempt += 1
            now = time.monotonic()
            if attempt == 1:
                first_failure = now
            decision = after_failure(
                failure,
                optional=one.optional,
                attempt=attempt,
                failing_for_s=now - first_failure,
                policy=self._policy,
                draw=random.random(),
            )
            if isinstance(decision, Without):
                self._without[one.path] = decision.problem
                log.warning(
                    "account_read_without",
                    read=one.path,
                    error=decision.problem,
                    meaning=one.without,
                )
                return True
            self._wait_for(one, failure, decision, attempt)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(decision.delay_s):
                    await stop.wait()
        return False

    def _wait_for(self, one: Read, error: DestinationError, decision: Again, attempt: int) -> None:
        """Say why delivery waits: in /readyz, and in the log."""
        stopped = decision.verdict is Verdict.STOP
        self.refusal = str(error) if stopped else None
        self.waiting = f"{error} (try {attempt})"
        level = log.warning if decision.verdict is Verdict.RETRY else log.error
        level(
            "account_unreadable",
            read=one.path,
            error=str(error),
            verdict=decision.verdict.value,
            attempt=attempt,
            retry_in_s=round(decision.delay_s, 2),
        )

    async def refresh(self) -> None:
        """Re-read the account now and then: new custom fields, renamed stages, new owners. A
        read that fails keeps its previous answer, and the next refresh comes sooner."""
        failures = 0
        while True:
            await asyncio.sleep(refresh_in_s(failures, self._policy))
            answers, without, failed = await self._read_once()
            try:
                account = assemble(
                    answers, self._wanted, calls=len(reads(self._wanted)), without=without
                )
            except ConfigurationError as error:
                log.warning("account_refresh_failed", error=str(error), keeping="previous")
                failures += 1
                continue
            self._answers, self._without = answers, without
            self.use(account)
            failures = failures + 1 if failed else 0
            log.info(
                "account_refreshed",
                calls=account.calls,
                lookups=len(account.lookups),
                failed=failed,
                next_in_s=refresh_in_s(failures, self._policy),
            )

    async def _read_once(self) -> tuple[dict[str, Mapping[str, object]], dict[str, str], int]:
        """Every read tried once, over a copy of what was read before: the answers, the
        optional reads still refused for good, and how many reads failed otherwise."""
        answers, without, failed = dict(self._answers), dict(self._without), 0
        for one in reads(self._wanted):
            try:
                answers[one.path] = (await self._caller.call("GET", one.path)).body
            except DestinationError as error:
                # Refused for good is no reason to come back sooner; the previous answer, if
                # any, is kept all the same.
                if verdict(error, optional=one.optional) is not Verdict.WITHOUT:
                    failed += 1
                kept = "previous" if one.path in answers else "none"
                log.warning("account_refresh_failed", read=one.path, error=str(error), keeping=kept)
            else:
                without.pop(one.path, None)
        return answers, without, failed

    def refused(self, error: DestinationError) -> None:
        """A delivery met a fatal answer (a refused key): stop delivering, re-check the key."""
        if not self._delivering.is_set():
            return
        self._delivering.clear()
        self.key_accepted = False
        self.refusal = str(error)
        log.error(
            "delivery_stopped",
            error=str(error),
            hint="fix FRESHSALES_API_KEY or its permissions; nothing is dead-lettered meanwhile",
        )
        task = asyncio.get_running_loop().create_task(self._recheck())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _recheck(self) -> None:
        while not self._delivering.is_set():
            await asyncio.sleep(self._recheck_interval_s)
            try:
                await self._caller.call("GET", "selector/owners")
            except DestinationError as error:
                log.info("key_still_refused", error=str(error))
                continue
            self.key_accepted, self.refusal = True, None
            log.info("delivery_resumed")
            self._delivering.set()
