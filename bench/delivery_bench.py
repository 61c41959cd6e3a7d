"""End-to-end events per second: Kafka → service → Freshsales simulator answering after 20 ms.

Run with ``python -m bench.delivery_bench [--events N] [--rounds R] [--before DIR]``; writes
bench/results/delivery.json with the machine and versions. ``--before DIR``: a checkout of an
earlier commit (``git archive <commit> | tar -x -C DIR``) whose engine runs in each round too, in
a process of its own against the same broker and simulator (``engine_before``).

Three figures from the same run, the simulator in its own process (latency 20 ms, quota off):

- ``raw_client``: ``FreshsalesClient`` POSTs at concurrency 64 with nothing else to do — the
  ceiling for the engine, which also spends one call per event here.
- ``engine``: the real service (``MAX_IN_FLIGHT=64``) on the embedded broker, in a process of
  its own, from partitions assigned to the last offset finished: fetch, translate, per-key
  dispatch, deliver, write what it learned of the person to the identity topic, commit.
  Every event is an identify of a distinct user (one ``contacts/upsert``), so the ratio to
  the raw ceiling measures the engine, not the mapping.
- ``naive``: fetch one record, translate, send, commit, in sequence — the baseline a simple
  consumer gets.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.client_bench import server
from bench.recording import machine, write
from consumer.engine.chain import Chain, advance
from consumer.freshsales.client import ClientOptions, FreshsalesClient
from consumer.logs import configure
from consumer.service import Service
from consumer.settings import Settings
from sandbox.broker import Broker, kafka_broker
from sandbox.topics import create_topic, produce
from translate import LookupKind, translate_bytes

RESULTS = Path(__file__).parent / "results" / "delivery.json"
ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-key"
LATENCY_MS = 20
CONCURRENCY = 64
PARTITIONS = 6


def identify(n: int, run: str) -> bytes:
    return orjson.dumps(
        {
            "type": "identify",
            "userId": f"{run}-user-{n}",
            "messageId": f"{run}-{n}",
            "traits": {"email": f"{run}-{n}@example.org", "firstName": "Ada", "plan": "pro"},
        }
    )


async def raw_client(base: str, seconds: float) -> float:
    done = 0
    stop_at = time.perf_counter() + seconds
    run = uuid.uuid4().hex[:6]
    async with FreshsalesClient(base, API_KEY, ClientOptions(pool_size=CONCURRENCY)) as client:

        async def worker(first: int) -> None:
            nonlocal done
            n = first
            while time.perf_counter() < stop_at:
                email = f"raw-{run}-{n}@example.org"
                body = {"unique_identifier": {"emails": email}, "contact": {"emails": email}}
                await client.call("POST", "contacts/upsert", body)
                done += 1
                n += CONCURRENCY

        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
        return done / (time.perf_counter() - start)


async def new_topic(broker: Broker, events: list[bytes]) -> str:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    await create_topic(broker.bootstrap_servers, topic, PARTITIONS)
    await produce(broker.bootstrap_servers, topic, [(e[:40], e) for e in events])
    return topic


async def engine(broker: Broker, base: str, count: int) -> float:
    run = uuid.uuid4().hex[:6]
    topic = await new_topic(broker, [identify(n, run) for n in range(count)])
    settings = Settings.from_env(
        {
            **broker.service_env(topic, f"g-{topic}"),
            "FRESHSALES_BASE_URL": base,
            "FRESHSALES_API_KEY": API_KEY,
            "MAX_IN_FLIGHT": str(CONCURRENCY),
            "HTTP_PORT": "0",
            # Engine headroom: unpaced (the simulator enforces no quota either).
            "FRESHSALES_RATE_LIMIT_PER_MINUTE": "1000000000",
            "FRESHSALES_RATE_LIMIT_PER_HOUR": "1000000000",
        }
    )
    service = Service(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    while not (service.engine and service.engine.assigned):  # noqa: ASYNC110 (a figure to watch, not an event)
        await asyncio.sleep(0.005)
    start = time.perf_counter()
    while service.stats.finished < count:
        if task.done():
            raise RuntimeError(f"service stopped: {task.result()}")
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    stop.set()
    await task
    if service.stats.outcomes["delivered"] != count:
        raise RuntimeError(f"not all delivered: {service.stats.outcomes}")
    return count / elapsed


async def naive(broker: Broker, base: str, count: int) -> float:
    """One record at a time: fetch, translate, call, commit."""
    run = uuid.uuid4().hex[:6]
    topic = await new_topic(broker, [identify(n, run) for n in range(count)])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers,
        group_id=f"naive-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    await consumer.start()
    lookups = {(LookupKind.LIFECYCLE_STAGE, "Lead"): await _lead_stage(base)}
    try:
        async with FreshsalesClient(base, API_KEY) as client:
            start = time.perf_counter()
            for _ in range(count):
                record = await consumer.getone()
                chain = Chain(translate_bytes(record.value or b""))
                await advance(chain, client, lookups)
                tp = TopicPartition(record.topic, record.partition)
                await consumer.commit({tp: record.offset + 1})
            return count / (time.perf_counter() - start)
    finally:
        await consumer.stop()


async def _lead_stage(base: str) -> int:
    async with FreshsalesClient(base, API_KEY) as client:
        stages = (await client.call("GET", "selector/lifecycle_stages")).body["lifecycle_stages"]
    assert isinstance(stages, list)
    return int(next(s["id"] for s in stages if s["name"] == "Lead"))


_BEFORE = """
import asyncio, os, sys
from bench.delivery_bench import engine
from consumer.logs import configure
from sandbox.broker import Broker
configure("info", "json", stream=open(os.devnull, "w"))
if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
    os.sched_setaffinity(0, {0})
print(asyncio.run(engine(Broker(sys.argv[1], sys.argv[2]), sys.argv[3], int(sys.argv[4]))))
"""


async def engine_of(tree: Path, broker: Broker, base: str, count: int) -> float:
    """``engine`` of the checkout ``tree``, in a process of its own (a fresh one each round, for
    this tree and an earlier one alike), against the same broker and simulator."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _BEFORE,
        broker.bootstrap_servers,
        broker.kind,
        base,
        str(count),
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the engine of {tree} failed: exit {process.returncode}")
    return float(out.decode().strip().splitlines()[-1])


async def measure(
    broker: Broker, base: str, events: int, rounds: int, before: Path | None = None
) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {"raw_client": [], "engine": [], "naive": []}
    if before is not None:
        rates["engine_before"] = []
    for _ in range(rounds):
        rates["raw_client"].append(await raw_client(base, 3.0))
        rates["engine"].append(await engine_of(ROOT, broker, base, events))
        if before is not None:
            rates["engine_before"].append(await engine_of(before, broker, base, events))
        rates["naive"].append(await naive(broker, base, 200))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    parser.add_argument(
        "--before",
        type=Path,
        help="a checkout of an earlier commit whose engine is measured in the same rounds",
    )
    args = parser.parse_args()
    # The service logs one JSON line per event, as in production; its cost is part of the figure,
    # a terminal's is not.
    configure("info", "json", stream=open(os.devnull, "w"))  # noqa: SIM115
    simulate = [sys.executable, "-m", "consumer", "simulate", "--port", "0", "--api-key", API_KEY]
    simulate += ["--per-minute", "0", "--per-hour", "0", "--flavor", "suite"]
    simulate += ["--latency-ms", str(LATENCY_MS)]
    with (
        kafka_broker() as broker,
        server(simulate, r"http://127\.0\.0\.1:\d+/crm/sales/api", core=1) as base,
    ):
        # Pinned after the broker started: it may use both cores, the simulator has core 1.
        if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
            os.sched_setaffinity(0, {0})
        rates = asyncio.run(measure(broker, base, args.events, args.rounds, args.before))
    medians = {name: round(statistics.median(r)) for name, r in rates.items()}
    report = {
        "what": "identify events (1 call each) per second, simulator answering after 20 ms",
        "events_per_engine_round": args.events,
        "rounds": args.rounds,
        "max_in_flight": CONCURRENCY,
        "broker": broker.kind,
        **machine("aiokafka", "aiohttp"),
        "per_second": {
            name: {"median": medians[name], "all": [round(x) for x in r]}
            for name, r in rates.items()
        },
        "engine_over_raw_client": round(medians["engine"] / medians["raw_client"], 3),
        "engine_over_naive": round(medians["engine"] / medians["naive"], 1),
    }
    if args.before is not None:
        report["before"] = {
            "tree": str(args.before),
            "engine_over_raw_client": round(medians["engine_before"] / medians["raw_client"], 3),
        }
    for name, r in rates.items():
        print(f"{name:<12} median {medians[name]:>6,}/s   rounds {[round(x) for x in r]}")
    print(f"engine / raw client ceiling: {report['engine_over_raw_client']:.1%}")
    print(f"engine / naive sequential:   {report['engine_over_naive']}x")
    if args.before is not None:
        ratio = medians["engine_before"] / medians["raw_client"]
        print(f"before ({args.before}) / raw client ceiling: {ratio:.1%}")
    if not args.no_write:
        write(RESULTS, report)


if __name__ == "__main__":
    main()
