"""The account's standing against the simulator: read at start (each read retried on its own,
delivery held back while one fails for now, a catalog refused for good done without), refreshed
(the previous answers kept when a read fails), and a refused key that stops delivery until a
re-check finds it accepted again (no broker needed)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from consumer.errors import AccessDenied, ConfigurationError
from consumer.freshsales.account import Wanted
from consumer.freshsales.budget import Budget
from consumer.freshsales.client import FreshsalesClient
from consumer.freshsales.paced import PacedCaller
from consumer.freshsales.quota import QuotaConfig
from consumer.freshsales.standing import AccountStanding
from consumer.ops.health import readiness
from sandbox.simulator import Fault, RunningSimulator, Simulator, SimulatorConfig, running
from translate import Flavor, LookupKind, Module, Options

KEY = "sim-api-key"
WANTED = Wanted(Flavor.SUITE, activity_types=("Segment Event", "Page View"), stages=("Lead",))


@asynccontextmanager
async def standing(
    *, refresh_s: float = 900.0, wanted: Wanted = WANTED, **faults: Any
) -> AsyncIterator[tuple[AccountStanding, RunningSimulator]]:
    config = SimulatorConfig(api_key=KEY, per_minute=0, per_hour=0, **faults)
    async with running(Simulator(config)) as sim, FreshsalesClient(sim.base_url(), KEY) as client:
        caller = PacedCaller(Budget(QuotaConfig(per_minute=10_000, per_hour=10_000)), client)
        yield (
            AccountStanding(
                caller, wanted, Options(), recheck_interval_s=0.05, refresh_interval_s=refresh_s
            ),
            sim,
        )


def owner_reads(sim: RunningSimulator) -> int:
    return sum(r.path.endswith("selector/owners") for r in sim.simulator.requests)


def answered(sim: RunningSimulator) -> Counter[str]:
    """How often each path was answered 200."""
    return Counter(r.path.split("/api/")[1] for r in sim.simulator.requests if r.status == 200)


def after_the_selectors(sim: RunningSimulator, fault: Fault, times: int) -> None:
    """``fault`` for the first catalog read (settings/contacts/fields) and the ``times`` - 1
    requests after it: WANTED's three selectors go through first."""
    sim.simulator.inject(Fault(), times=3)  # a fault that changes nothing
    sim.simulator.inject(fault, times=times)


async def until(condition: Any, limit_s: float = 5.0) -> None:
    async with asyncio.timeout(limit_s):
        while not condition():
            await asyncio.sleep(0.005)


def ready(account: AccountStanding) -> tuple[bool, str]:
    return readiness(
        stopping=False,
        refusal=account.refusal,
        key_accepted=account.key_accepted,
        waiting=account.waiting,
        assigned=True,
        circuit_open=False,
    )


async def test_the_start_up_read_resolves_names_and_opens_delivery() -> None:
    async with standing() as (account, _):
        assert await account.read(asyncio.Event())
        assert account.delivering.is_set()
        assert (account.key_accepted, account.refusal) == (True, None)
        assert (LookupKind.SALES_ACTIVITY_TYPE, "Page View") in account.lookups
        assert account.options.catalog is not None  # the account's fields joined the options


async def test_a_name_the_account_lacks_is_a_configuration_error() -> None:
    wanted = Wanted(Flavor.SUITE, activity_types=("Webinar",), stages=())
    async with standing(wanted=wanted) as (account, sim):
        with pytest.raises(ConfigurationError, match="Webinar"):
            await account.read(asyncio.Event())
        # Found out from the selectors, before the catalogs are read.
        assert set(answered(sim)) == {"selector/sales_activity_types", "selector/owners"}


async def test_with_30_percent_of_calls_failing_each_read_is_retried_alone_in_seconds() -> None:
    # Seed 2 fails the 3rd, 5th and 7th calls: the stages, then the contacts' and the accounts'
    # fields, each once. An all-or-nothing start-up would read everything again each time.
    async with standing(fail_rate=0.3, seed=2) as (account, sim):
        started = time.monotonic()
        assert await account.read(asyncio.Event())
        elapsed = time.monotonic() - started
        failed = [r.path.split("/api/")[1] for r in sim.simulator.requests if r.status != 200]
    assert failed == [
        "selector/lifecycle_stages",
        "settings/contacts/fields",
        "settings/sales_accounts/fields",
    ]
    assert set(answered(sim).values()) == {1}  # what answered was kept, never read again
    assert len(answered(sim)) == 6
    assert elapsed < 2.0  # three pauses of at most 0.5 s
    assert account.options.catalog is not None
    assert account.options.catalog.fields(Module.CONTACTS) is not None


async def test_a_catalog_unreadable_for_now_holds_delivery_back_and_says_why() -> None:
    async with standing() as (account, sim):
        after_the_selectors(sim, Fault(status=503), times=100_000)  # down, until cleared
        reading = asyncio.create_task(account.read(asyncio.Event()))
        await until(lambda: account.waiting is not None)
        assert not account.delivering.is_set()
        assert account.refusal is None
        detail = "GET settings/contacts/fields: answered 503 (Service Unavailable) (try 1)"
        assert ready(account) == (False, f"the Freshsales account has not been read yet: {detail}")
        await until(lambda: answered(sim) and "(try 3)" in str(account.waiting))
        sim.simulator.clear_faults()
        assert await asyncio.wait_for(reading, 10)
        assert account.delivering.is_set()
        assert (account.waiting, ready(account)) == (None, (True, "ok"))
        assert account.options.catalog is not None
        assert account.options.catalog.fields(Module.CONTACTS) is not None
        assert answered(sim)["selector/owners"] == 1


async def test_a_catalog_refused_for_good_is_done_without_and_the_rest_is_used() -> None:
    async with standing() as (account, sim):
        after_the_selectors(sim, Fault(status=404), times=1)  # a plan without the module
        assert await account.read(asyncio.Event())
        catalog = account.options.catalog
        assert catalog is not None
        assert catalog.fields(Module.CONTACTS) is None  # its custom traits go unchecked
        assert catalog.fields(Module.DEALS) is not None
        assert (account.key_accepted, account.refusal, account.waiting) == (True, None, None)
        contacts = [r for r in sim.simulator.requests if r.path.endswith("contacts/fields")]
        assert len(contacts) == 1  # not asked again


async def test_a_refused_key_at_start_stops_until_a_read_is_answered() -> None:
    async with standing() as (account, sim):
        sim.simulator.inject(Fault(status=401), times=3)
        reading = asyncio.create_task(account.read(asyncio.Event()))
        await until(lambda: account.refusal is not None)
        assert "401" in str(account.refusal)
        assert ready(account)[1].startswith("stopped: GET selector/sales_activity_types:")
        assert await asyncio.wait_for(reading, 5)
        assert (account.key_accepted, account.refusal) == (True, None)


async def test_stopping_ends_the_start_up_reads() -> None:
    async with standing() as (account, sim):
        sim.simulator.inject(Fault(status=503), times=100_000)
        stop = asyncio.Event()
        reading = asyncio.create_task(account.read(stop))
        await until(lambda: account.waiting is not None)
        stop.set()
        assert not await asyncio.wait_for(reading, 1)
        assert not account.delivering.is_set()


async def test_the_account_is_read_again_on_a_slow_refresh() -> None:
    async with standing(refresh_s=0.05) as (account, sim):
        await account.read(asyncio.Event())
        refresher = asyncio.create_task(account.refresh())
        try:
            async with asyncio.timeout(5):
                while owner_reads(sim) < 3:
                    await asyncio.sleep(0.01)
        finally:
            refresher.cancel()


async def test_a_refresh_that_fails_keeps_what_was_read_before() -> None:
    async with standing(refresh_s=0.05) as (account, sim):
        await account.read(asyncio.Event())
        before, lookups = account.options.catalog, account.lookups
        sim.simulator.inject(Fault(status=503), times=100_000)
        refresher = asyncio.create_task(account.refresh())
        try:
            failing = len(sim.simulator.requests)
            await until(lambda: len(sim.simulator.requests) > failing + 12)  # two refreshes
            assert (account.options.catalog, account.lookups) == (before, lookups)
            assert account.delivering.is_set()
            sim.simulator.clear_faults()
            answering = owner_reads(sim)
            await until(lambda: owner_reads(sim) > answering + 1)
        finally:
            refresher.cancel()
        assert (account.options.catalog, account.lookups) == (before, lookups)


async def test_a_refused_key_stops_delivery_until_a_recheck_finds_it_accepted() -> None:
    async with standing() as (account, sim):
        await account.read(asyncio.Event())
        sim.simulator.inject(Fault(status=401), times=3)  # the next re-checks are refused too
        account.refused(AccessDenied("the API key was refused (401)", status=401))
        assert not account.delivering.is_set()
        assert "401" in str(account.refusal)
        assert not account.key_accepted
        async with asyncio.timeout(5):
            await account.delivering.wait()
        assert (account.key_accepted, account.refusal) == (True, None)
