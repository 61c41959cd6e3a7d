"""The account as the service sees it: read at start-up, refreshed now and then, and the key's
standing — a refused key stops delivery (not-ready) until a re-check finds it accepted again."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from consumer.account import Account, Wanted, read_account
from consumer.freshsales import FreshsalesClient
from consumer.logs import get_logger
from consumer.settings import Settings
from translate import ConfigurationError, DestinationError, Lookups, Options

log = get_logger("consumer.keeper")


@dataclass
class Health:
    """What /readyz reports and the demo watches."""

    assigned: bool = False
    auth_ok: bool = False
    fatal: str | None = None


class AccountKeeper:
    def __init__(
        self, settings: Settings, *, recheck_interval_s: float, refresh_interval_s: float
    ) -> None:
        self._settings = settings
        self._recheck_interval_s = recheck_interval_s
        self._refresh_interval_s = refresh_interval_s
        self.health = Health()
        self.lookups: Lookups = {}
        self.options = Options()
        self.delivering = asyncio.Event()
        """Set while deliveries may talk to Freshsales: cleared by a refused key."""
        self._background: set[asyncio.Task[None]] = set()

    def wanted(self) -> Wanted:
        s = self._settings
        events = s.event_filter
        screen = (s.screen_activity_type,) if s.screen_activity_type else ()
        return Wanted(
            flavor=s.freshsales_flavor,
            activity_types=(s.track_activity_type, s.page_activity_type, *screen),
            stages=(s.lead_stage, *s.stage_map.values()),
            default_owner_id=s.default_owner_id,
            # Accounts with an industry come from groups and identify's company.
            industry_types=events.may_admit("group") or events.may_admit("identify"),
        )

    def use(self, account: Account) -> None:
        """Account settings and catalog for everything translated or delivered from now on."""
        s = self._settings
        self.lookups = account.lookups
        self.options = Options(
            flavor=s.freshsales_flavor,
            catalog=account.catalog,
            track_activity_type=s.track_activity_type,
            page_activity_type=s.page_activity_type,
            lead_stage=s.lead_stage,
            stage_map=dict(s.stage_map),
            deliver_pages=s.page_events == "deliver",
            screen_activity_type=s.screen_activity_type or None,
            group_id_field=s.group_id_field or None,
            industry_types=account.industry_types,
            events=s.event_filter,
        )

    async def read(self, client: FreshsalesClient, stop: asyncio.Event) -> bool:
        """Read the account, retrying until it works or ``stop``; False when stopped first.
        Raises ConfigurationError when a configured name does not exist."""
        delay = 1.0
        while not stop.is_set():
            try:
                account = await read_account(client, self.wanted())
            except ConfigurationError:
                raise
            except DestinationError as error:
                self.health.auth_ok = False
                self.health.fatal = str(error) if error.fatal else None
                log.error("account_unreadable", error=str(error), retry_in_s=delay)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stop.wait()
                delay = min(delay * 2, self._recheck_interval_s)
                continue
            self.health.auth_ok, self.health.fatal = True, None
            for problem in account.catalog_problems:
                log.warning("field_catalog_unavailable", problem=problem)
            log.info("account_read", calls=account.calls, lookups=len(account.lookups))
            self.use(account)
            self.delivering.set()
            return True
        return False

    async def refresh(self, client: FreshsalesClient) -> None:
        """Re-read the account now and then: new custom fields, renamed stages, new owners."""
        while True:
            await asyncio.sleep(self._refresh_interval_s)
            try:
                account = await read_account(client, self.wanted())
            except DestinationError as error:
                log.warning("account_refresh_failed", error=str(error), keeping="previous")
                continue
            self.use(account)
            log.info("account_refreshed", calls=account.calls, lookups=len(account.lookups))

    def refused(self, error: DestinationError, client: FreshsalesClient) -> None:
        """A delivery met a fatal answer (a refused key): stop delivering, re-check the key."""
        if not self.delivering.is_set():
            return
        self.delivering.clear()
        self.health.auth_ok = False
        self.health.fatal = str(error)
        log.error(
            "delivery_stopped",
            error=str(error),
            hint="fix FRESHSALES_API_KEY or its permissions; nothing is dead-lettered meanwhile",
        )
        task = asyncio.get_running_loop().create_task(self._recheck(client))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _recheck(self, client: FreshsalesClient) -> None:
        while not self.delivering.is_set():
            await asyncio.sleep(self._recheck_interval_s)
            try:
                await client.call("GET", "selector/owners")
            except DestinationError as error:
                log.info("key_still_refused", error=str(error))
                continue
            self.health.auth_ok, self.health.fatal = True, None
            log.info("delivery_resumed")
            self.delivering.set()
