"""One account's quota shared: with another integration, between replicas, and alone.

Run with ``python -m bench.shared_quota_bench [--scenario A|B|C]... [--today DIR]``; writes
bench/results/shared_quota.json with the machine and versions (a run of some scenarios keeps the
others' figures in the file).

Real service processes (``python -m consumer run``, production defaults) consume a backlog on a
6-partition topic of the local broker and deliver it to one in-process simulator whose account
enforces the limit (sliding windows; a 429 says when a place frees, ``Retry-After``; no
``X-RateLimit-*`` headers, which Freshsales is not known to send). Every identify and track here
costs one call: activity digests are off (``ACTIVITY_DIGEST=off``), so that both builds make the
same calls and the backlog outlasts the run. The Kafka group timing is the service's default,
which a user keeps: ``KAFKA_SESSION_TIMEOUT_MS=10000``, ``KAFKA_HEARTBEAT_INTERVAL_MS=3000`` (on
the embedded broker a join settles about 8 s after it starts, and a SIGKILLed member's
partitions move about 16 s after the kill).

- **A, another integration eats the quota**: the account allows 60 calls a minute (another
  client spends the rest of a 600 plan), the service is configured for 600 a minute and 5,000
  an hour; a backlog of 360 events (six minutes at 60 a minute). Until everything is committed:
  429s, delivered, dead letters. Goal: all delivered, none dead-lettered, at most 5 429s.
- **A2, the other integration as a client of its own** (``--scenario A2``, not in the default
  set): the account allows its plan's 400 a minute, a second client (this benchmark) spends 340
  of them at an even pace from start to end, the service is configured for the plan. Counts as
  A, and the other client's 429s.
- **B, replicas 1 → 3 → 2** on a 240/minute account (5,000 an hour), nothing configured per
  replica: one replica starts on a backlog, two more join at 20 s, one of those is SIGKILLed at
  80 s; the run ends 110 s after the kill. Goal: at most 5 429s over the run, and at least
  0.85 x 240 successful calls from 50 to 110 s after the kill; none dead-lettered.
- **C, alone**: one replica on a 240/minute account for three minutes. Goal: no 429, the quota
  used in full (successful calls per minute).

"Today's behaviour" is the service as it was before replicas split the share and a 429 taught
the capacity: ``--today DIR`` names a checkout of that commit (``git archive 3a8af5f | tar -x
-C DIR``), whose processes run from it (``PYTHONPATH=DIR``, same virtualenv: the dependencies
did not change). Each scenario is then run with both, one after the other; B with today's default
share (1 per replica) and with ``FRESHSALES_QUOTA_SHARE=0.3333`` set on every replica as well.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.chaos_bench import count_records
from bench.recording import machine, write
from sandbox.broker import Broker, kafka_broker
from sandbox.simulator import Simulator, SimulatorConfig, running
from sandbox.topics import create_topic, delete_topics, own_topics, produce

RESULTS = Path(__file__).parent / "results" / "shared_quota.json"
API_KEY = "shared-quota-key"
PARTITIONS = 6
SESSION_TIMEOUT_MS = 10_000  # the service's default (README: Configuration)
HEARTBEAT_INTERVAL_MS = 3_000


def backlog(users: int, tracks: int, run: str) -> list[tuple[bytes, bytes]]:
    """Per user an identify, then ``tracks`` tracks: one call each while the person is known
    (two for the first track after the user's partition moved to a replica that does not)."""
    events: list[tuple[bytes, bytes]] = []
    for user in range(users):
        key = f"user-{run}-{user}".encode()
        events.append(
            (
                key,
                orjson.dumps(
                    {
                        "type": "identify",
                        "userId": key.decode(),
                        "messageId": f"identify-{run}-{user}",
                        "traits": {"email": f"user{user}.{run}@example.com", "firstName": "Ada"},
                    }
                ),
            )
        )
        events += [
            (
                key,
                orjson.dumps(
                    {
                        "type": "track",
                        "userId": key.decode(),
                        "event": "Feature Used",
                        "messageId": f"track-{run}-{user}-{n}",
                        "timestamp": "2026-11-30T10:00:00Z",
                        # As Segment's sources send it: the replica that gets the user's
                        # partition after a rebalance can find the person by it.
                        "context": {"traits": {"email": f"user{user}.{run}@example.com"}},
                    }
                ),
            )
            for n in range(tracks)
        ]
    return events


@dataclass
class Fleet:
    """The service processes of one run, by name, with their logs."""

    env: dict[str, str]
    today: Path | None
    files: contextlib.ExitStack
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    logs: dict[str, IO[bytes]] = field(default_factory=dict)

    async def start(self, name: str, **env: str) -> None:
        log = self.files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (closed by the stack)
        environment = {**self.env, **env}
        cwd = None
        if self.today is not None:
            # ``python -m`` puts the working directory first on the path: the old code's.
            environment["PYTHONPATH"] = str(self.today)
            cwd = str(self.today)
        self.logs[name] = log
        self.processes[name] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "consumer", "run", env=environment, stdout=log, cwd=cwd
        )

    async def kill(self, name: str) -> None:
        process = self.processes[name]
        process.kill()
        await process.wait()

    async def stop(self) -> dict[str, int | None]:
        for process in self.processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        return {
            name: await asyncio.wait_for(process.wait(), 60)
            for name, process in self.processes.items()
        }

    def quota_lines(self) -> dict[str, list[dict[str, Any]]]:
        lines: dict[str, list[dict[str, Any]]] = {}
        for name, log in self.logs.items():
            log.seek(0)
            lines[name] = [
                entry
                for raw in log
                if raw.startswith(b"{") and (entry := orjson.loads(raw)).get("event") == "quota"
            ]
        return lines


@dataclass(frozen=True)
class Account:
    per_minute: int
    per_hour: int = 5000


async def committed(broker: Broker, topic: str, group: str) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return sum([await consumer.committed(tp) or 0 for tp in parts])
    finally:
        await consumer.stop()


@dataclass
class Stage:
    topic: str
    group: str
    sim: Simulator
    base_url: str
    fleet: Fleet
    dead_letters: int | None = None
    """Counted once the fleet has stopped and the stage is left."""


@contextlib.asynccontextmanager
async def stage(
    broker: Broker, account: Account, events: Sequence[tuple[bytes, bytes]], today: Path | None
) -> AsyncIterator[Stage]:
    """A topic with the backlog, the simulator, and a fleet ready to start; cleaned up after."""
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"quota-{suffix}", f"quota-{suffix}"
    await create_topic(broker.bootstrap_servers, topic, PARTITIONS)
    try:
        await produce(broker.bootstrap_servers, topic, events)
        config = SimulatorConfig(
            api_key=API_KEY, per_minute=account.per_minute, per_hour=account.per_hour, log_limit=0
        )
        async with running(Simulator(config)) as served:
            env = {
                "PATH": os.environ.get("PATH", ""),
                **broker.service_env(topic, group),
                "KAFKA_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
                "KAFKA_HEARTBEAT_INTERVAL_MS": str(HEARTBEAT_INTERVAL_MS),
                "FRESHSALES_BASE_URL": served.base_url(),
                "FRESHSALES_API_KEY": API_KEY,
                "HTTP_PORT": "0",
                "LOG_LEVEL": "info",
                "QUOTA_LOG_SECONDS": "10",
                # One activity per track, as the service before had it: the scenarios measure
                # how the calls share the quota, and digests would fold most of them away.
                "ACTIVITY_DIGEST": "off",
            }
            with contextlib.ExitStack() as files:
                staged = Stage(
                    topic, group, served.simulator, served.base_url(), Fleet(env, today, files)
                )
                yield staged
        staged.dead_letters = await count_records(broker, f"{topic}.dlq")
    finally:
        await delete_topics(broker.bootstrap_servers, own_topics(topic, group))


OTHER = "X-Bench-Client"


def answered(sim: Simulator) -> list[tuple[float, int]]:
    """The service's answered calls (not the other client's): time and status."""
    return [
        (r.at, r.status) for r in sim.requests if r.status is not None and OTHER not in r.headers
    ]


async def other_client(base_url: str, per_minute: float, stop: asyncio.Event) -> None:
    """Another integration of the account: a read at an even pace, whatever it is answered."""
    headers = {"Authorization": f"Token token={API_KEY}", OTHER: "other"}
    async with aiohttp.ClientSession(headers=headers) as session:
        due = time.monotonic()
        while not stop.is_set():
            async with session.get(f"{base_url}/selector/owners") as response:
                await response.read()
            due += 60.0 / per_minute
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due - time.monotonic()))


def in_window(calls: list[tuple[float, int]], start: float, end: float, status: int) -> int:
    return sum(1 for at, s in calls if start <= at < end and s == status)


def last_quota(fleet: Fleet) -> dict[str, dict[str, Any]]:
    keep = ("share", "minute_limit", "minute_capacity", "rate_factor", "rate_limited")
    return {
        name: {k: lines[-1].get(k) for k in keep if k in lines[-1]}
        for name, lines in fleet.quota_lines().items()
        if lines
    }


async def scenario_a(broker: Broker, today: Path | None, *, other: bool) -> dict[str, Any]:
    users, tracks = 40, 8
    run = uuid.uuid4().hex[:6]
    events = backlog(users, tracks, run)
    account = Account(per_minute=400) if other else Account(per_minute=60)
    configured = "400" if other else "600"
    stop = asyncio.Event()
    async with stage(broker, account, events, today) as staged:
        sim, fleet = staged.sim, staged.fleet
        spender = asyncio.create_task(other_client(staged.base_url, 340, stop)) if other else None
        await asyncio.sleep(20.0 if other else 0.0)  # it was there first
        started = time.time()
        await fleet.start(
            "r1",
            FRESHSALES_RATE_LIMIT_PER_MINUTE=configured,
            FRESHSALES_RATE_LIMIT_PER_HOUR="5000",
        )
        async with asyncio.timeout(1800):
            while await committed(broker, staged.topic, staged.group) < len(events):  # noqa: ASYNC110 (Kafka's state, polled)
                await asyncio.sleep(2.0)
        took = time.time() - started
        statuses = await fleet.stop()
        stop.set()
        if spender is not None:
            await spender
        calls = answered(sim)
        others = [r.status for r in sim.requests if OTHER in r.headers and r.at >= started]
        activities = len(sim.state("suite")["sales_activities"])
        contacts = len(sim.state("suite")["contacts"])
        quota = last_quota(fleet)
    return {
        "events": len(events),
        "delivered": {"activities": activities, "contacts": contacts},
        "all_delivered": activities == users * tracks and contacts == users,
        "dead_letters": staged.dead_letters,
        "answers_429": sum(1 for _, s in calls if s == 429),
        "answers_429_at_s": [round(at - started, 1) for at, s in calls if s == 429],
        "calls_accepted": sum(1 for _, s in calls if s < 300),
        "took_s": round(took, 1),
        **(
            {
                "other_client": {
                    "per_minute": 340,
                    "accepted": sum(1 for s in others if s == 200),
                    "answers_429": sum(1 for s in others if s == 429),
                }
            }
            if other
            else {}
        ),
        "exit_statuses": statuses,
        "quota_line_at_exit": quota,
    }


async def scenario_b(broker: Broker, today: Path | None, share: str | None) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    events = backlog(110, 15, run)  # 1,760 calls: more than the run can make
    limits = {"FRESHSALES_RATE_LIMIT_PER_MINUTE": "240", "FRESHSALES_RATE_LIMIT_PER_HOUR": "5000"}
    if share is not None:
        limits["FRESHSALES_QUOTA_SHARE"] = share
    async with stage(broker, Account(per_minute=240), events, today) as staged:
        sim, fleet = staged.sim, staged.fleet
        started = time.time()
        await fleet.start("r1", **limits)
        await asyncio.sleep(20.0)
        await fleet.start("r2", **limits)
        await fleet.start("r3", **limits)
        await asyncio.sleep(60.0)
        await fleet.kill("r3")
        killed = time.time()
        await asyncio.sleep(112.0)
        ended = time.time()
        statuses = await fleet.stop()
        calls = [c for c in answered(sim) if c[0] < ended]
        quota = last_quota(fleet)
        timeline = [
            {
                "replica": name,
                "t": round(logged_at(line) - started, 1),
                **{k: line.get(k) for k in ("share", "minute_limit", "rate_limited")},
            }
            for name, lines in fleet.quota_lines().items()
            for line in lines
        ]
    after_kill = in_window(calls, killed + 50, killed + 110, 200)
    return {
        "share_setting": share or "default",
        "answers_429": sum(1 for _, s in calls if s == 429),
        "answers_429_at_s": [round(at - started, 1) for at, s in calls if s == 429],
        "answers_429_by_phase": {
            "alone (0-20 s)": in_window(calls, started, started + 20, 429),
            "three (20-80 s)": in_window(calls, started + 20, killed, 429),
            "after the kill": in_window(calls, killed, ended, 429),
        },
        "accepted_kill_plus_50_to_110_s": after_kill,
        "of_the_quota": round(after_kill / 240, 3),
        "accepted_per_20_s": [
            in_window(calls, started + t, started + t + 20, 200) for t in range(0, 200, 20)
        ],
        "kill_at_s": round(killed - started, 1),
        "dead_letters": staged.dead_letters,
        "exit_statuses": statuses,
        "quota_line_at_exit": quota,
        "quota_lines": sorted(timeline, key=lambda e: (e["t"], e["replica"])),
    }


def logged_at(line: dict[str, Any]) -> float:
    stamp = str(line.get("timestamp", ""))
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def scenario_c(broker: Broker, today: Path | None) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    events = backlog(80, 15, run)  # 1,280 calls: more than three minutes' worth
    limits = {"FRESHSALES_RATE_LIMIT_PER_MINUTE": "240", "FRESHSALES_RATE_LIMIT_PER_HOUR": "50000"}
    account = Account(per_minute=240, per_hour=50_000)
    async with stage(broker, account, events, today) as staged:
        sim, fleet = staged.sim, staged.fleet
        await fleet.start("r1", **limits)
        await asyncio.sleep(185.0)
        statuses = await fleet.stop()
        calls = answered(sim)
        quota = last_quota(fleet)
    first = min(at for at, _ in calls)
    return {
        "answers_429": sum(1 for _, s in calls if s == 429),
        "accepted_per_minute": [
            in_window(calls, first + m, first + m + 60, 200) for m in (0, 60, 120)
        ],
        "accepted_in_first_3_min": in_window(calls, first, first + 180, 200),
        "accepted_per_20_s": [
            in_window(calls, first + t, first + t + 20, 200) for t in range(0, 180, 20)
        ],
        "dead_letters": staged.dead_letters,
        "exit_statuses": statuses,
        "quota_line_at_exit": quota,
    }


async def run_all(broker: Broker, scenarios: Sequence[str], today: Path | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    builds: list[tuple[str, Path | None]] = [("new", None)]
    if today is not None:
        builds.append(("today", today))
    for name in scenarios:
        results[name] = {}
        for build, where in builds:
            print(f"scenario {name}, {build} …", flush=True)
            if name in ("A", "A2"):
                results[name][build] = await scenario_a(broker, where, other=name == "A2")
            elif name == "B":
                results[name][build] = await scenario_b(broker, where, None)
                if build == "today":
                    results[name]["today_share_1_3"] = await scenario_b(broker, where, "0.3333")
            else:
                results[name][build] = await scenario_c(broker, where)
            print(json.dumps(headline(name, results[name][build])), flush=True)
    return results


def headline(name: str, r: dict[str, Any]) -> dict[str, Any]:
    keep = {
        "A": ("answers_429", "all_delivered", "dead_letters", "took_s"),
        "A2": ("answers_429", "all_delivered", "dead_letters", "took_s", "other_client"),
        "B": ("answers_429", "accepted_kill_plus_50_to_110_s", "of_the_quota", "dead_letters"),
        "C": ("answers_429", "accepted_per_minute", "dead_letters"),
    }[name]
    return {k: r[k] for k in keep}


def summary(results: dict[str, Any]) -> Iterator[str]:
    for name, builds in results.items():
        for build, r in builds.items():
            yield f"{name} {build}: {headline(name, r)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario",
        action="append",
        choices=("A", "A2", "B", "C"),
        help="repeatable; default A, B and C",
    )
    parser.add_argument(
        "--today", type=Path, help="a checkout of the commit before, to run beside (see above)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    scenarios = args.scenario or ["A", "B", "C"]
    if args.today is not None and not (args.today / "consumer" / "__main__.py").is_file():
        parser.error(f"--today {args.today}: not a checkout of this project")
    with kafka_broker() as broker:
        results = asyncio.run(run_all(broker, scenarios, args.today))
    for line in summary(results):
        print(line)
    report: dict[str, Any] = {}
    if args.output.is_file():
        report = json.loads(args.output.read_text())
    report.update(
        {
            "what": "one account's quota: another integration, replicas 1 -> 3 -> 2, alone",
            "kafka": {
                "broker": broker.kind,
                "session_timeout_ms": SESSION_TIMEOUT_MS,
                "heartbeat_interval_ms": HEARTBEAT_INTERVAL_MS,
            },
            "today": "3a8af5f" if args.today is not None else None,
            **machine("aiokafka", "aiohttp"),
        }
    )
    report.setdefault("scenarios", {}).update(results)
    write(args.output, report)


if __name__ == "__main__":
    main()
