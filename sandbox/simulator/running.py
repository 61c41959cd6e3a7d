"""Serve a simulator on a real socket for the length of an ``async with``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from sandbox.simulator.config import PREFIXES
from sandbox.simulator.server import Simulator


@dataclass(frozen=True)
class RunningSimulator:
    simulator: Simulator
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def base_url(self, flavor: str = "suite") -> str:
        """The API base a client is configured with, e.g. ``http://127.0.0.1:PORT/crm/sales/api``."""
        return self.url + PREFIXES[flavor]


@asynccontextmanager
async def running(
    sim: Simulator, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSimulator]:
    # A short shutdown grace: a request held by a delay fault must not hold up the test's exit.
    runner = web.AppRunner(sim.app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        yield RunningSimulator(sim, host, bound)
    finally:
        await runner.cleanup()
