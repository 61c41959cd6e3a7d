"""The account's standing: read at start-up, refreshed now and then, and whether the key is
accepted — a refused key stops delivery (not-ready) until a re-check finds it accepted again.

``consumer.freshsales.account`` says what to read; this carries it out over time.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

from consumer.backoff import Backoff
from consumer.errors import ConfigurationError
from consumer.freshsales.account import Account, Wanted, read_account
from consumer.freshsales.paced import PacedCaller
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
        self._refresh_interval_s = refresh_interval_s
        self.key_accepted = False
        self.refusal: str | None = None
        """Why delivery is stopped (a refused key), or None."""
        self._lookups: Lookups = {}
        self.options = options
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
        """Read the account, retrying until it works or ``stop``; False when stopped first.
        Raises ConfigurationError when a configured name does not exist."""
        delays = Backoff(1.0, self._recheck_interval_s).delays()
        while not stop.is_set():
            try:
                account = await read_account(self._caller, self._wanted)
            except ConfigurationError:
                raise
            except DestinationError as error:
                self.key_accepted = False
                self.refusal = str(error) if error.fatal else None
                delay = next(delays)
                log.error("account_unreadable", error=str(error), retry_in_s=delay)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stop.wait()
                continue
            self.key_accepted, self.refusal = True, None
            for problem in account.catalog_problems:
                log.warning("field_catalog_unavailable", problem=problem)
            log.info("account_read", calls=account.calls, lookups=len(account.lookups))
            self.use(account)
            self._delivering.set()
            return True
        return False

    async def refresh(self) -> None:
        """Re-read the account now and then: new custom fields, renamed stages, new owners."""
        while True:
            await asyncio.sleep(self._refresh_interval_s)
            try:
                account = await read_account(self._caller, self._wanted)
            except DestinationError as error:
                log.warning("account_refresh_failed", error=str(error), keeping="previous")
                continue
            self.use(account)
            log.info("account_refreshed", calls=account.calls, lookups=len(account.lookups))

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
