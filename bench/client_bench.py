"""Freshsales client POSTs per second against the simulator, at concurrency 1, 16 and 64.

Run with ``python -m bench.client_bench [--seconds S] [--rounds R]``; writes
bench/results/client.json with the machine and versions.

The simulator runs in its own process (``freshsales-destination simulate``, quota off), pinned to
one core, the client to the other, so neither steals the other's CPU. Three cases run in
interleaved rounds, so a drift in machine speed hits them alike:

- ``client``: ``FreshsalesClient.call("POST", "contacts/upsert", …)`` — our client, real upserts
  (a rotating set of 2,000 emails: both creates and updates), answer decoded and checked.
- ``raw_aiohttp``: the same requests through a bare ``aiohttp.ClientSession`` (no error mapping,
  no decoding) against the same simulator: what our client costs on top of aiohttp.
- ``ceiling``: bare aiohttp against a minimal aiohttp server that answers ``{}``: what this
  machine can do at all with aiohttp on both ends (the research figure of 6-11k/s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from importlib import metadata
from pathlib import Path

import aiohttp
import orjson

from consumer.freshsales.client import ClientOptions, FreshsalesClient

RESULTS = Path(__file__).parent / "results" / "client.json"
API_KEY = "bench-key"
EMAILS = 2_000
CONCURRENCY = (1, 16, 64)

_CEILING_SERVER = """
import sys
from aiohttp import web
async def ok(request):
    await request.read()
    return web.Response(body=b"{}", content_type="application/json")
app = web.Application()
app.router.add_post("/{tail:.*}", ok)
def ready(*_):
    print("ready", flush=True)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=ready)
"""


def body(n: int) -> dict[str, object]:
    email = f"bench{n % EMAILS}@acme.example"
    return {
        "unique_identifier": {"emails": email},
        "contact": {
            "emails": email,
            "first_name": "Ada",
            "last_name": f"Lovelace {n}",
            "external_id": f"user-{n % EMAILS}",
            "custom_field": {"cf_alternate_number": "98765432"},
        },
    }


@contextlib.contextmanager
def server(args: list[str], ready: str, core: int) -> Iterator[str]:
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_pin(core)
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 20
        for line in process.stdout:
            found = re.search(ready, line)
            if found:
                yield found.group(0)
                break
            if time.monotonic() > deadline:
                break
        else:
            raise RuntimeError(f"{args[0]} did not start")
    finally:
        process.terminate()
        process.wait(timeout=10)


def _pin(core: int) -> Callable[[], None] | None:
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        return None
    return lambda: os.sched_setaffinity(0, {core})


Send = Callable[[int], Awaitable[None]]


async def run_for(concurrency: int, seconds: float, send: Send) -> float:
    """Requests per second with ``concurrency`` workers sending back to back for ``seconds``."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker(first: int) -> None:
        nonlocal done
        n = first
        while time.perf_counter() < stop_at:
            await send(n)
            done += 1
            n += concurrency

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return done / (time.perf_counter() - start)


Rates = dict[str, dict[str, dict[str, int]]]


async def measure(base: str, ceiling: str, seconds: float, rounds: int) -> Rates:
    headers = {"Authorization": f"Token token={API_KEY}", "Content-Type": "application/json"}
    results: dict[str, dict[int, list[float]]] = {
        case: {c: [] for c in CONCURRENCY} for case in ("client", "raw_aiohttp", "ceiling")
    }
    async with (
        FreshsalesClient(base, API_KEY, ClientOptions(pool_size=64)) as client,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64), headers=headers) as session,
    ):

        async def ours(n: int) -> None:
            answer = await client.call("POST", "contacts/upsert", body(n))
            assert "contact" in answer.body

        async def raw(n: int, url: str = f"{base}/contacts/upsert") -> None:
            async with session.post(url, data=orjson.dumps(body(n))) as response:
                await response.read()
                assert response.status in (200, 201), response.status

        async def bare(n: int, url: str = f"{ceiling}/contacts/upsert") -> None:
            async with session.post(url, data=orjson.dumps(body(n))) as response:
                await response.read()

        cases = {"client": ours, "raw_aiohttp": raw, "ceiling": bare}
        for c in CONCURRENCY:  # warm-up: connections, simulator records
            for send in cases.values():
                await run_for(c, 0.3, send)
        for _ in range(rounds):
            for c in CONCURRENCY:
                for case, send in cases.items():
                    results[case][c].append(await run_for(c, seconds, send))
    return {
        case: {
            str(c): {"median": round(statistics.median(r)), "best": round(max(r))}
            for c, r in by_c.items()
        }
        for case, by_c in results.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per case and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {0})
    simulate = [sys.executable, "-m", "consumer", "simulate", "--port", "0", "--api-key", API_KEY]
    simulate += ["--per-minute", "0", "--per-hour", "0", "--flavor", "suite"]
    trivial = [sys.executable, "-c", _CEILING_SERVER, str(_free_port())]
    with (
        server(simulate, r"http://127\.0\.0\.1:\d+/crm/sales/api", core=1) as base,
        server(trivial, "ready", core=1),
    ):
        ceiling = f"http://127.0.0.1:{trivial[-1]}"
        rates = asyncio.run(measure(base, ceiling, args.seconds, args.rounds))
    report = {
        "what": "POST contacts/upsert per second; client on core 0, server on core 1",
        "seconds_per_case": args.seconds,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "aiohttp": metadata.version("aiohttp"),
        "orjson": metadata.version("orjson"),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "posts_per_second": rates,
    }
    print(f"{'case':<12}" + "".join(f"{'c=' + str(c):>18}" for c in CONCURRENCY))
    for case, by_c in rates.items():
        cells = "".join(
            f"{by_c[str(c)]['median']:>10,} ({by_c[str(c)]['best']:>5,})" for c in CONCURRENCY
        )
        print(f"{case:<12}{cells}")
    print("median (best) POST/s per concurrency")
    if not args.no_write:
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(f"written to {RESULTS}")


def _free_port() -> int:
    from sandbox.broker import free_port

    return free_port()


if __name__ == "__main__":
    main()
