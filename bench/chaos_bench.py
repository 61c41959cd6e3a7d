"""Chaos: the real service, SIGKILLed at random moments, against a Freshsales that misbehaves.

Run with ``python -m bench.chaos_bench [--minutes M] [--short] [--seed N]``; writes
bench/results/chaos.json with the machine and versions (``--short``: a 30-second form that
the test suite runs, ``tests/test_chaos.py``; it writes nothing unless ``--output`` says where).

For the chosen time, while events stream into the topic at a steady rate — each user first an
anonymous visitor's page view (keyed by its anonymousId), then identifies with the database
userId, the email and a new version of the first name, and track/page events that name the user
by userId alone, keyed by userId, as a website sends them — the service runs
as a process (``python -m consumer run``, production defaults: coalescing, skip-unchanged,
the ledger) and is killed with SIGKILL at random moments and started again. The simulator fails
5% of calls (500/502/503), drops 2%, answers after 10 ms, takes 0.5 s for one call in 40, and
answers one in 250 with a 429 and ``Retry-After: 1``. Then production stops, a last process
finishes everything, and the CRM is held against what was produced (``sandbox.audit``):

- lost: a track/page messageId without its sales activity (a visitor's page view in the history
  of the lead they became), or a contact whose first name is not the user's last version — must
  be 0;
- repeated: activities per messageId beyond one, accepted upserts per (email, version) beyond
  one, and both per crash;
- dead letters: every event here is valid, so 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.recording import machine, write
from sandbox.audit import UserStream, audit
from sandbox.broker import Broker, kafka_broker
from sandbox.faultmix import every_nth_request
from sandbox.process import service_env, start_service
from sandbox.simulator import Fault, Simulator, SimulatorConfig, running
from sandbox.topics import create_topic, delete_topics, new_producer

RESULTS = Path(__file__).parent / "results" / "chaos.json"
API_KEY = "chaos-key"
PARTITIONS = 6


@dataclass(frozen=True)
class Plan:
    seconds: float = 180.0
    """How long events stream in and kills happen."""
    events_per_second: float = 100.0
    users: int = 300
    activities_per_identify: int = 3
    alive_s: tuple[float, float] = (3.0, 10.0)
    """Each process lives this long (uniformly drawn) before its SIGKILL; starting takes about
    two seconds of it (the account, the ledger, joining the group)."""
    fail_rate: float = 0.05
    drop_rate: float = 0.02
    latency_ms: float = 10.0
    slow_every: int = 40
    """One request in this many answers after ``slow_s``."""
    slow_s: float = 0.5
    throttle_every: int = 250
    """One request in this many is a 429 with ``Retry-After: 1``."""
    max_in_flight: int = 16
    seed: int = 1
    drain_timeout_s: float = 300.0


SHORT = Plan(
    seconds=20.0,
    events_per_second=60.0,
    users=60,
    alive_s=(2.5, 5.0),
    drain_timeout_s=90.0,
)


@dataclass
class Lives:
    """The service processes of one run: their logs, and when each was killed."""

    logs: list[IO[bytes]]
    killed_at: list[float]

    def events(self) -> Counter[str]:
        """Outcome lines over every process' log (``deduplicated``, ``retrying``, …)."""
        counts: Counter[str] = Counter()
        for log in self.logs:
            log.seek(0)
            for line in log:
                if line.startswith(b"{"):
                    counts[str(orjson.loads(line).get("event"))] += 1
        return counts


async def run_chaos(broker: Broker, plan: Plan) -> dict[str, Any]:
    """One chaos run on ``broker``; the figures of the results file."""
    rng = random.Random(plan.seed)
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"chaos-{suffix}", f"chaos-{suffix}"
    await create_topic(broker.bootstrap_servers, topic, PARTITIONS)
    stream = UserStream(plan.users, plan.activities_per_identify, run=suffix, visitors=True)
    config = SimulatorConfig(
        api_key=API_KEY,
        per_minute=0,
        per_hour=0,
        fail_rate=plan.fail_rate,
        drop_rate=plan.drop_rate,
        latency_ms=plan.latency_ms,
        seed=plan.seed,
        log_limit=0,  # every request stays: the audit counts accepted upserts from the log
    )
    started = time.monotonic()
    try:
        with contextlib.ExitStack() as files:
            lives = Lives([], [])

            def new_log() -> IO[bytes]:
                log = files.enter_context(tempfile.TemporaryFile())
                lives.logs.append(log)
                return log

            async with running(Simulator(config)) as served:
                sim = served.simulator
                env = service_env(
                    broker,
                    topic,
                    group,
                    served.base_url(),
                    API_KEY,
                    LOG_LEVEL="info",
                    MAX_IN_FLIGHT=str(plan.max_in_flight),
                    # The engine under chaos, not the quota: the simulator enforces none either.
                    FRESHSALES_RATE_LIMIT_PER_MINUTE="1000000",
                    FRESHSALES_RATE_LIMIT_PER_HOUR="1000000",
                    # A killed member's partitions come back within about two seconds.
                    KAFKA_SESSION_TIMEOUT_MS="1000",
                    KAFKA_HEARTBEAT_INTERVAL_MS="300",
                )
                async with (
                    every_nth_request(sim, plan.slow_every, Fault(delay_s=plan.slow_s)),
                    every_nth_request(sim, plan.throttle_every, Fault(status=429, retry_after="1")),
                ):
                    producing = asyncio.create_task(_produce(broker, topic, stream, plan))
                    await _kill_repeatedly(env, plan, rng, lives, new_log, producing)
                    await producing
                    chaos_s = time.monotonic() - started
                    drained = time.monotonic()
                    process = await _start(env, new_log())
                    try:
                        await until_committed(
                            broker, topic, group, stream.produced.events, plan.drain_timeout_s
                        )
                        # The visitors' page views that waited are delivered once the waiting
                        # topic's commit position reaches its end.
                        await until_drained(broker, f"{group}.waiting", group, plan.drain_timeout_s)
                    finally:
                        process.send_signal(signal.SIGTERM)
                        final_status = await process.wait()
                    drain_s = time.monotonic() - drained
                result = audit(sim, stream.produced)
                faults = Counter(
                    "dropped" if r.dropped else str(r.status)
                    for r in sim.requests
                    if r.fault and (r.dropped or r.status)
                )
                requests = len(sim.requests)
            outcomes = lives.events()
        letters = await count_records(broker, f"{topic}.dlq")
    finally:
        await delete_topics(
            broker.bootstrap_servers,
            [
                topic,
                f"{topic}.dlq",
                *(f"{group}.{name}" for name in ("delivered", "identities", "waiting")),
            ],
        )
    kills = len(lives.killed_at)
    return {
        "what": "SIGKILLs at random moments during a stream of events, Freshsales misbehaving",
        "plan": {**asdict(plan), "alive_s": list(plan.alive_s)},
        "events": result.events,
        "track_page_events": result.activities,
        "anonymous_page_views": stream.produced.visits,
        "identifies": result.events - result.activities,
        "users": plan.users,
        "lost": result.lost,
        "missing_activities": len(result.missing_activities),
        "stale_contacts": len(result.stale_contacts),
        "duplicate_activities": result.duplicate_activities,
        "duplicate_upserts": result.duplicate_upserts,
        "duplicates_per_crash": {
            "activities": round(result.duplicate_activities / kills, 2) if kills else None,
            "upserts": round(result.duplicate_upserts / kills, 2) if kills else None,
        },
        "unexpected_activities": result.unexpected_activities,
        "dead_letters": letters,
        "restarts": kills,
        "final_exit_status": final_status,
        "deduplicated_after_restart": outcomes["deduplicated"],
        "retried_attempts": outcomes["retrying"],
        "freshsales_requests": requests,
        "faults": dict(sorted(faults.items())),
        "time_s": {
            "chaos": round(chaos_s, 1),
            "drain": round(drain_s, 1),
            "total": round(time.monotonic() - started, 1),
        },
        "broker": broker.kind,
        **machine("aiokafka", "aiohttp"),
    }


async def _produce(broker: Broker, topic: str, stream: UserStream, plan: Plan) -> None:
    """``events_per_second`` for ``seconds``, in bursts of a tenth of a second."""
    producer = new_producer(broker.bootstrap_servers)
    await producer.start()
    try:
        start = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - start) < plan.seconds:
            due = int(elapsed * plan.events_per_second) - sent
            if due > 0:
                batch = [
                    await producer.send(topic, value=value, key=key)
                    for key, value in stream.take(due)
                ]
                await asyncio.gather(*batch)
                sent += due
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()


async def _kill_repeatedly(
    env: dict[str, str],
    plan: Plan,
    rng: random.Random,
    lives: Lives,
    new_log: Any,
    producing: asyncio.Task[None],
) -> None:
    while not producing.done():
        process = await _start(env, new_log())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(producing), rng.uniform(*plan.alive_s))
        if process.returncode is not None:
            raise RuntimeError(f"the service exited by itself with {process.returncode}")
        process.kill()
        lives.killed_at.append(time.time())
        await process.wait()


async def _start(env: dict[str, str], log: IO[bytes]) -> asyncio.subprocess.Process:
    return await start_service(env, log)


async def until_committed(
    broker: Broker, topic: str, group: str, total: int, timeout_s: float
) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = await partitions_of(consumer, topic)
        async with asyncio.timeout(timeout_s):
            while sum([await consumer.committed(tp) or 0 for tp in parts]) < total:  # noqa: ASYNC110 (Kafka's state, polled)
                await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer.topics()  # the cluster's metadata, this topic's partitions with it
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def until_drained(broker: Broker, topic: str, group: str, timeout_s: float) -> None:
    """Wait until ``group``'s commit position is at the end of every partition of ``topic``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = await partitions_of(consumer, topic)
        async with asyncio.timeout(timeout_s):
            while True:
                ends = await consumer.end_offsets(parts)
                committed = [await consumer.committed(tp) or 0 for tp in parts]
                if all(c >= ends[tp] for tp, c in zip(parts, committed, strict=True)):
                    return
                await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


async def count_records(broker: Broker, topic: str) -> int:
    """Records in ``topic`` (0 when it does not exist), from the high watermarks."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return 0
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        count = 0
        async with asyncio.timeout(30):
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    count += len(records)
                parts = consumer.assignment()
                ends = [consumer.highwater(tp) for tp in parts]
                if parts and None not in ends:
                    positions = [await consumer.position(tp) for tp in parts]
                    if all(p >= e for p, e in zip(positions, ends, strict=True)):
                        return count
    finally:
        await consumer.stop()


def summary(report: dict[str, Any]) -> Iterator[str]:
    per_crash = report["duplicates_per_crash"]
    yield (
        f"{report['events']:,} events ({report['track_page_events']:,} track/page, of them"
        f" {report['anonymous_page_views']:,} anonymous page views,"
        f" {report['identifies']:,} identifies, {report['users']} users),"
        f" {report['restarts']} SIGKILLs and restarts in {report['time_s']['total']} s"
        f" (chaos {report['time_s']['chaos']} s, drain {report['time_s']['drain']} s)"
    )
    yield (
        f"lost: {report['lost']}   dead letters: {report['dead_letters']}"
        f"   unexpected activities: {report['unexpected_activities']}"
    )
    yield (
        f"repeated: {report['duplicate_activities']} activities"
        f" ({per_crash['activities']} per crash), {report['duplicate_upserts']} upserts"
        f" ({per_crash['upserts']} per crash); {report['deduplicated_after_restart']:,}"
        " delivered activities read again after a crash and not re-sent"
    )
    yield (
        f"Freshsales: {report['freshsales_requests']:,} requests, faults {report['faults']},"
        f" {report['retried_attempts']:,} retried attempts"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="chaos time (default 3)")
    parser.add_argument("--short", action="store_true", help="the 30-second form of the tests")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--output",
        type=Path,
        help="results file (default: bench/results/chaos.json for the long form;"
        " the short form writes none unless given)",
    )
    args = parser.parse_args()
    plan = SHORT if args.short else Plan(seconds=args.minutes * 60)
    plan = Plan(**{**asdict(plan), "seed": args.seed})
    with kafka_broker() as broker:
        report = asyncio.run(run_chaos(broker, plan))
    for line in summary(report):
        print(line)
    output = args.output or (None if args.short else RESULTS)
    if output is not None:
        write(output, report)
    if report["lost"] or report["dead_letters"] or report["final_exit_status"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
