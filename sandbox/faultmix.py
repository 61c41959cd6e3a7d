"""Faults at a share of the requests a simulator receives, for tests and the chaos benchmark.

``SimulatorConfig`` draws 5xx and dropped connections per request; slow answers and 429s come
from queued faults (``Simulator.inject``). Queued on a timer they would hit almost every request
of a quiet client and few of a busy one, so here they are queued by request count instead: one
for every ``nth`` request, whatever the traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sandbox.simulator import Fault, Simulator

POLL_S = 0.01


@contextlib.asynccontextmanager
async def every_nth_request(sim: Simulator, nth: int, fault: Fault) -> AsyncIterator[None]:
    """While the block runs, queue ``fault`` once per ``nth`` request the simulator receives."""
    if nth < 1:
        raise ValueError("nth must be >= 1")

    def received() -> int:
        return sim.log_offset + len(sim.requests)

    async def follow() -> None:
        queued_at = received()
        while True:
            await asyncio.sleep(POLL_S)
            while received() - queued_at >= nth:
                sim.inject(fault)
                queued_at += nth

    task = asyncio.create_task(follow())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
