"""``freshsales-destination simulate``: run the simulator until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from typing import IO

from sandbox.simulator.config import SimulatorConfig
from sandbox.simulator.running import running
from sandbox.simulator.server import Simulator


def serve(config: SimulatorConfig, host: str, port: int, out: IO[str]) -> int:
    """Serve until interrupted; 0 on a clean stop."""
    asyncio.run(_serve(Simulator(config), host, port, out))
    return 0


async def _serve(sim: Simulator, host: str, port: int, out: IO[str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(sim, host, port) as served:
        config = sim.config
        lines = [f"Freshsales simulator listening on {served.url}"]
        lines += [f"{flavor} base URL: {served.base_url(flavor)}" for flavor in config.flavors]
        lines += [
            f"API key: {config.api_key}  (header: Authorization: Token token={config.api_key})",
            f"quota per account: {_limit(config.per_minute)}/minute,"
            f" {_limit(config.per_hour)}/hour",
            f"control: GET {served.url}/_sim/requests",
            f"control: GET {served.url}/_sim/state?flavor={config.flavors[0]}",
            f"control: POST {served.url}/_sim/reset",
            f"control: POST {served.url}/_sim/faults"
            ' {"status": 503, "times": 3, "retry_after": "2", "drop": false, "delay_s": 0}',
            f"control: DELETE {served.url}/_sim/faults",
            f'control: POST {served.url}/_sim/key {{"api_key": "<new key>"}}',
            "Stop with Ctrl+C (SIGINT) or SIGTERM.",
        ]
        out.write("\n".join(lines) + "\n")
        out.flush()
        await stop.wait()
    out.write("Freshsales simulator stopped.\n")
    out.flush()


def _limit(value: int) -> str:
    return str(value) if value else "unlimited"
