"""Starting while Freshsales is flaky: how soon delivery begins, and whether anything is lost.

Run with ``python -m bench.flaky_start_bench [--runs N] [--fail-rate R] [--output PATH]``; writes
bench/results/flaky_start.json with the machine and versions.

Each run starts the real service as a process (``python -m consumer run``, production defaults,
the quota of a Growth plan) against a simulator that answers a share of the calls (30 % by
default), start-up reads included, with a 500, 502 or 503. Fifty identifies wait in the topic
before the start, each with a custom trait the account does not have (``cfShoeSize``): with the
contacts' field catalog the trait is dropped and reported, without it Freshsales refuses the
upsert (400) and the identify is dead-lettered. Measured from the moment the process is spawned:

- the first person upserted in Freshsales (target: within 15 s);
- all 50 (target: within 45 s);
- 400s answered, and dead letters (target: none).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from bench.chaos_bench import count_records
from bench.recording import machine, write
from sandbox.broker import Broker, kafka_broker
from sandbox.process import service_env, start_service
from sandbox.simulator import Simulator, SimulatorConfig, running
from sandbox.topics import create_topic, delete_topics, produce

RESULTS = Path(__file__).parent / "results" / "flaky_start.json"
API_KEY = "flaky-key"
PEOPLE = 50
PARTITIONS = 3
FIRST_WITHIN_S = 15.0
ALL_WITHIN_S = 45.0
GIVE_UP_S = 120.0
START_UP_READS = ("/selector/", "/settings/")


def identifies(run: str) -> list[tuple[bytes | None, bytes]]:
    return [
        (
            f"{run}-{n}".encode(),
            orjson.dumps(
                {
                    "type": "identify",
                    "userId": f"{run}-{n}",
                    "messageId": f"{run}-m{n}",
                    "traits": {"email": f"{run}-{n}@example.com", "cfShoeSize": 42},
                }
            ),
        )
        for n in range(PEOPLE)
    ]


async def one_start(
    broker: Broker, seed: int, fail_rate: float, logs: Path | None = None
) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    topic = group = f"flaky-{suffix}"
    await create_topic(broker.bootstrap_servers, topic, PARTITIONS)
    await create_topic(broker.bootstrap_servers, f"{topic}.dlq", 1)
    try:
        await produce(broker.bootstrap_servers, topic, identifies(suffix))
        config = SimulatorConfig(api_key=API_KEY, fail_rate=fail_rate, seed=seed, log_limit=0)
        with tempfile.TemporaryFile() as log:
            async with running(Simulator(config)) as served:
                sim = served.simulator
                env = service_env(broker, topic, group, served.base_url(), API_KEY)
                spawned = time.time()
                process = await start_service(env, log)
                try:
                    async with asyncio.timeout(GIVE_UP_S):
                        while len(sim.state("suite")["contacts"]) < PEOPLE:
                            if process.returncode is not None:
                                break
                            await asyncio.sleep(0.05)
                except TimeoutError:
                    pass
                finally:
                    process.send_signal(signal.SIGTERM)
                    status = await process.wait()
                first_upsert: dict[str, float] = {}
                for r in sim.requests:
                    if r.path.endswith("/contacts/upsert") and r.status in (200, 201):
                        email = str(r.body["unique_identifier"]["emails"])
                        first_upsert.setdefault(email, r.at - spawned)
                upserted = sorted(first_upsert.values())
                reads = [r for r in sim.requests if any(p in r.path for p in START_UP_READS)]
                statuses = Counter(str(r.status) for r in sim.requests)
            log.seek(0)
            if logs is not None:
                (logs / f"flaky_start_{seed}.log").write_bytes(log.read())
                log.seek(0)
            events = Counter(
                str(orjson.loads(line).get("event")) for line in log if line.startswith(b"{")
            )
        letters = await count_records(broker, f"{topic}.dlq")
    finally:
        await delete_topics(broker.bootstrap_servers, [topic, f"{topic}.dlq", f"{group}.delivered"])
    people = len(upserted)
    return {
        "seed": seed,
        "first_person_s": round(upserted[0], 2) if upserted else None,
        "all_people_s": round(upserted[PEOPLE - 1], 2) if people >= PEOPLE else None,
        "people": people,
        "answered_400": statuses.get("400", 0),
        "dead_letters": letters,
        "start_up_reads": len(reads),
        "start_up_reads_failed": sum(r.status is None or r.status >= 500 for r in reads),
        "requests": sum(statuses.values()),
        "statuses": dict(sorted(statuses.items())),
        "retrying_lines": events["retrying"],
        "account_unreadable_lines": events["account_unreadable"],
        "exit_status": status,
    }


def met(run: dict[str, Any]) -> bool:
    first, every = run["first_person_s"], run["all_people_s"]
    return (
        first is not None
        and first <= FIRST_WITHIN_S
        and every is not None
        and every <= ALL_WITHIN_S
        and run["answered_400"] == 0
        and run["dead_letters"] == 0
    )


async def bench(
    broker: Broker, runs: int, fail_rate: float, seed: int, logs: Path | None = None
) -> dict[str, Any]:
    results = [await one_start(broker, seed + n, fail_rate, logs) for n in range(runs)]
    return {
        "what": f"{runs} starts, {PEOPLE} identifies waiting, {fail_rate:.0%} of calls 5xx",
        "targets": {
            "first_person_s": FIRST_WITHIN_S,
            "all_people_s": ALL_WITHIN_S,
            "answered_400": 0,
            "dead_letters": 0,
        },
        "runs": results,
        "all_met": all(met(r) for r in results),
        "broker": broker.kind,
        **machine("aiokafka", "aiohttp"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1, help="of the first run's faults")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--logs", type=Path, help="keep each run's service log in this directory")
    args = parser.parse_args()
    with kafka_broker() as broker:
        report = asyncio.run(bench(broker, args.runs, args.fail_rate, args.seed, args.logs))
    for run in report["runs"]:
        print(
            f"seed {run['seed']}: first person {run['first_person_s']} s, all {PEOPLE}"
            f" {run['all_people_s']} s, 400s {run['answered_400']},"
            f" dead letters {run['dead_letters']}, start-up reads {run['start_up_reads']}"
            f" ({run['start_up_reads_failed']} failed)"
        )
    write(args.output, report)
    if not report["all_met"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
