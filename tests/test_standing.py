"""The account's standing against the simulator: read at start, refreshed, and a refused key that
stops delivery until a re-check finds it accepted again (no broker needed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from consumer.errors import AccessDenied, ConfigurationError
from consumer.freshsales.account import Wanted
from consumer.freshsales.budget import Budget
from consumer.freshsales.client import FreshsalesClient
from consumer.freshsales.paced import PacedCaller
from consumer.freshsales.quota import QuotaConfig
from consumer.freshsales.standing import AccountStanding
from sandbox.simulator import Fault, RunningSimulator, Simulator, SimulatorConfig, running
from translate import Flavor, LookupKind, Options

KEY = "sim-api-key"
WANTED = Wanted(Flavor.SUITE, activity_types=("Segment Event", "Page View"), stages=("Lead",))


@asynccontextmanager
async def standing(
    *, refresh_s: float = 900.0, wanted: Wanted = WANTED
) -> AsyncIterator[tuple[AccountStanding, RunningSimulator]]:
    config = SimulatorConfig(api_key=KEY, per_minute=0, per_hour=0)
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


async def test_the_start_up_read_resolves_names_and_opens_delivery() -> None:
    async with standing() as (account, _):
        assert await account.read(asyncio.Event())
        assert account.delivering.is_set()
        assert (account.key_accepted, account.refusal) == (True, None)
        assert (LookupKind.SALES_ACTIVITY_TYPE, "Page View") in account.lookups
        assert account.options.catalog is not None  # the account's fields joined the options


async def test_a_name_the_account_lacks_is_a_configuration_error() -> None:
    wanted = Wanted(Flavor.SUITE, activity_types=("Webinar",), stages=())
    async with standing(wanted=wanted) as (account, _):
        with pytest.raises(ConfigurationError, match="Webinar"):
            await account.read(asyncio.Event())


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
