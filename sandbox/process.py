"""The real service as a process (``python -m consumer run``) against the local stand-ins: what
benchmarks and process-level tests start, SIGKILL and restart."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import IO

from sandbox.broker import Broker


def service_env(
    broker: Broker, topic: str, group: str, base_url: str, api_key: str, **extra: str
) -> dict[str, str]:
    """The environment of ``run`` on ``topic`` and ``group`` of ``broker``, delivering to the
    simulator at ``base_url``; ``extra`` settings win."""
    return {
        "PATH": os.environ.get("PATH", ""),
        **broker.service_env(topic, group),
        "FRESHSALES_BASE_URL": base_url,
        "FRESHSALES_API_KEY": api_key,
        "HTTP_PORT": "0",
        **extra,
    }


async def start_service(
    env: dict[str, str], stdout: IO[bytes], stderr: IO[bytes] | None = None
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "consumer", "run", env=env, stdout=stdout, stderr=stderr or stdout
    )
