"""Memory with a large backlog: bounded by the people waiting, not by their events.

Run with ``python -m bench.memory_bench [--people 30000] [--events 300000] [--seconds 150]``;
writes bench/results/memory.json with the machine and versions.

300,000 track/page events of 30,000 people wait in the topic; the service (a process, the quota
at 400 calls a minute) reads far ahead while it waits for the quota, holding what it folds as
one line per event. Recorded once a second for ``--seconds``: the process's RSS, and from
``/metrics`` the events fetched and unfinished (``fsd_buffered``) and of them held folded
(``fsd_folded_waiting``) — with digests (``ACTIVITY_DIGEST=auto``) and without (``off``: every
event held whole, so fetching stops at ``MAX_BUFFERED``), in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.backlog_bench import rss_kb
from bench.recording import machine, write
from sandbox.broker import Broker, kafka_broker
from sandbox.process import service_env, start_service
from sandbox.simulator import Simulator, SimulatorConfig, running
from sandbox.topics import create_topic, delete_topics, produce

RESULTS = Path(__file__).parent / "results" / "memory.json"
API_KEY = "memory-key"
PER_MINUTE = 400
PARTITIONS = 6


def events(people: int, count: int) -> Iterator[tuple[bytes, bytes]]:
    for n in range(count):
        person = n % people
        uid = f"person-{person}"
        event: dict[str, Any] = {
            "type": "track" if n % 2 else "page",
            "userId": uid,
            "messageId": f"mem-{n}",
            "timestamp": "2026-11-30T10:00:00Z",
            "context": {"traits": {"email": f"p{person}@example.com"}},
            "properties": {"path": f"/docs/{n % 50}", "plan": "pro"},
        }
        event["event" if n % 2 else "name"] = "Feature Used" if n % 2 else "Docs"
        yield uid.encode(), orjson.dumps(event)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def gauges(port: int) -> dict[str, float]:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as answer,
        ):
            text = await answer.text()
    except aiohttp.ClientError:
        return {}
    found = {}
    for name in ("fsd_buffered", "fsd_folded_waiting", "fsd_backlog_events"):
        match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
        if match:
            found[name] = float(match.group(1))
    return found


async def scenario(broker: Broker, mode: str, topic: str, seconds: float) -> dict[str, Any]:
    group = f"memory-{uuid.uuid4().hex[:8]}"
    config = SimulatorConfig(api_key=API_KEY, per_minute=PER_MINUTE, per_hour=PER_MINUTE * 60)
    port = free_port()
    samples: list[dict[str, float]] = []
    async with running(Simulator(config)) as served:
        env = service_env(
            broker,
            topic,
            group,
            served.base_url(),
            API_KEY,
            HTTP_PORT=str(port),
            LOG_LEVEL="warning",
            QUOTA_LOG_SECONDS="0",
            FRESHSALES_RATE_LIMIT_PER_MINUTE=str(PER_MINUTE),
            FRESHSALES_RATE_LIMIT_PER_HOUR=str(PER_MINUTE * 60),
            ACTIVITY_DIGEST=mode,
        )
        with tempfile.TemporaryFile() as log:
            process = await start_service(env, log)
            started = time.monotonic()
            try:
                while (elapsed := time.monotonic() - started) < seconds:
                    await asyncio.sleep(1.0)
                    sample = {"t": round(elapsed), "rss_mb": rss_kb(process.pid) / 1024}
                    samples.append(sample | await gauges(port))
                peak = rss_kb(process.pid, "VmHWM") / 1024
            finally:
                process.terminate()
                await process.wait()
    await delete_topics(broker.bootstrap_servers, [f"{topic}.dlq", f"{group}.delivered"])
    late = [s["rss_mb"] for s in samples if s["t"] >= seconds / 2]
    return {
        "peak_rss_mb": round(peak, 1),
        "rss_mb_second_half": [round(min(late), 1), round(max(late), 1)] if late else None,
        "most_buffered": max((s.get("fsd_buffered", 0) for s in samples), default=0),
        "most_folded": max((s.get("fsd_folded_waiting", 0) for s in samples), default=0),
        "every_10_s": [{k: round(v, 1) for k, v in s.items()} for s in samples if s["t"] % 10 == 0],
    }


async def main(people: int, count: int, seconds: float, output: Path, modes: list[str]) -> None:
    with kafka_broker() as broker:
        topic = f"memory-{uuid.uuid4().hex[:8]}"
        await create_topic(broker.bootstrap_servers, topic, PARTITIONS)
        produced = time.monotonic()
        await produce(broker.bootstrap_servers, topic, events(people, count))
        print(f"{count} events of {people} people produced in {time.monotonic() - produced:.0f}s")
        try:
            results = {}
            for mode in modes:
                results[mode] = await scenario(broker, mode, topic, seconds)
                print(
                    mode,
                    orjson.dumps(
                        {k: v for k, v in results[mode].items() if k != "every_10_s"}
                    ).decode(),
                )
        finally:
            await delete_topics(broker.bootstrap_servers, [topic])
        write(
            output,
            {
                "what": f"{count} track/page events of {people} people waiting, a {PER_MINUTE}/min"
                f" quota: the service's memory for {seconds:g} s",
                "digests": results.get("auto"),
                "every_event_held_whole": results.get("off"),
                "broker": broker.kind,
                **machine("aiokafka", "aiohttp"),
            },
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=30_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--modes", nargs="+", default=["auto", "off"], help="ACTIVITY_DIGEST values"
    )
    args = parser.parse_args()
    asyncio.run(main(args.people, args.events, args.seconds, args.output, args.modes))
