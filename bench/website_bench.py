"""A website's stream across a deploy: anonymous visitors sign up, the service restarts, and the
users go on with their userId alone — beside the service as it was before it knew who a person
is, on the same stream in the same session.

Run with ``python -m bench.website_bench [--users N] [--before DIR]``; writes
bench/results/website.json with the machine and versions. ``--before DIR``: a checkout of an
earlier commit (``git archive a8590ff | tar -x -C DIR``), run as a process the same way.

The stream (``sandbox.corpus``, without companies), keyed by userId, else anonymousId, on a
3-partition topic:

1. each user browses anonymously (two page views, anonymousId alone), signs up (an identify with
   a database userId, the anonymousId and the email) and sends a track; the service (a process,
   production defaults, quota unpaced: calls are counted here) delivers it all and is stopped
   (SIGTERM), as a deploy does;
2. a new process, then each user's later session as analytics.js sends it once the user is
   known: two page views and a track with the userId (and the anonymousId), no email, and an
   identify of a changed custom field (``cfPlan``) with the userId alone.

For each tree: what reached Freshsales (contacts, sales activities, how many of the page views
and tracks they represent), the dead letters by reason, and the calls spent.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from bench.chaos_bench import until_committed, until_drained
from bench.recording import machine, write
from sandbox.audit import message_ids_of
from sandbox.broker import Broker, kafka_broker
from sandbox.corpus import sessions, user_key
from sandbox.process import service_env
from sandbox.simulator import Simulator, SimulatorConfig, running
from sandbox.topics import create_topic, delete_topics, produce

RESULTS = Path(__file__).parent / "results" / "website.json"
API_KEY = "website-key"
PARTITIONS = 3
Records = list[tuple[bytes | None, bytes]]


def stream(users: int) -> tuple[Records, Records]:
    """The sign-ups, and the later session after the restart."""
    events = [orjson.loads(e) for e in sessions(users, 2, companies=False)]
    first, later = events[: 4 * users], events[4 * users :]
    after: list[dict[str, Any]] = []
    for event in later:
        if event["type"] == "identify":
            # A trait changed, sent with the userId alone (analytics.identify(userId, {cfPlan})).
            event = {
                "type": "identify",
                "userId": event["userId"],
                "anonymousId": event["anonymousId"],
                "traits": {"cfPlan": "Pro"},
                "messageId": event["messageId"],
                "timestamp": event["timestamp"],
            }
        after.append(event)
    return _keyed(first), _keyed(after)


def _keyed(events: list[dict[str, Any]]) -> Records:
    values = [orjson.dumps(e) for e in events]
    return [(user_key(v), v) for v in values]


def _activity_ids(events: Records) -> set[str]:
    ids = set()
    for _, value in events:
        event = orjson.loads(value)
        if event["type"] in ("page", "track"):
            ids.add(str(event["messageId"]))
    return ids


async def run_tree(broker: Broker, users: int, tree: Path) -> dict[str, Any]:
    """Both phases on ``tree``'s service, against a simulator of their own."""
    first, after = stream(users)
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"website-{suffix}", f"website-{suffix}"
    await create_topic(broker.bootstrap_servers, topic, PARTITIONS)
    config = SimulatorConfig(api_key=API_KEY, per_minute=0, per_hour=0, log_limit=0)
    started = time.monotonic()
    try:
        async with running(Simulator(config)) as served:
            sim = served.simulator
            env = service_env(
                broker,
                topic,
                group,
                served.base_url(),
                API_KEY,
                LOG_LEVEL="warning",
                FRESHSALES_RATE_LIMIT_PER_MINUTE="1000000",
                FRESHSALES_RATE_LIMIT_PER_HOUR="1000000",
                PYTHONPATH=str(tree),
            )
            phases = []
            produced = 0
            for events in (first, after):
                await produce(broker.bootstrap_servers, topic, events)
                produced += len(events)
                calls_before = len(sim.requests)
                log = tempfile.TemporaryFile()  # noqa: SIM115 (the process writes it)
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "consumer",
                    "run",
                    env=env,
                    cwd=tree,
                    stdout=log,
                    stderr=log,
                )
                try:
                    await until_committed(broker, topic, group, produced, 300)
                    if await _has_topic(broker, f"{group}.waiting"):
                        await until_drained(broker, f"{group}.waiting", group, 300)
                except TimeoutError:
                    log.seek(0)
                    sys.stderr.write(log.read().decode(errors="replace")[-3000:])
                    raise
                process.terminate()
                status = await process.wait()
                phases.append(
                    {
                        "events": len(events),
                        "calls": len(sim.requests) - calls_before,
                        "exit_status": status,
                    }
                )
            state = sim.state("suite")
            represented = set()
            for activity in state["sales_activities"]:
                represented.update(message_ids_of({"sales_activity": activity}))
            letters = await _letters(broker, f"{topic}.dlq")
        wanted = _activity_ids(first) | _activity_ids(after)
        after_wanted = _activity_ids(after)
        return {
            "tree": str(tree),
            "events": len(first) + len(after),
            "sign_up_phase": phases[0],
            "after_restart_phase": phases[1],
            "contacts": len(state["contacts"]),
            "page_views_and_tracks": len(wanted),
            "represented_in_freshsales": len(wanted & represented),
            "after_restart_page_views_and_tracks": len(after_wanted),
            "after_restart_represented": len(after_wanted & represented),
            "plan_pro_contacts": sum(
                1
                for c in state["contacts"]
                if (c.get("custom_field") or {}).get("cf_plan") == "Pro"
            ),
            "dead_letters": dict(sorted(letters.items())),
            "calls": sum(p["calls"] for p in phases),
            "seconds": round(time.monotonic() - started, 1),
        }
    finally:
        await delete_topics(
            broker.bootstrap_servers,
            [
                topic,
                f"{topic}.dlq",
                *(f"{group}.{n}" for n in ("delivered", "identities", "waiting")),
            ],
        )


async def _has_topic(broker: Broker, topic: str) -> bool:
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap_servers)
    await consumer.start()
    try:
        return topic in await consumer.topics()
    finally:
        await consumer.stop()


async def _letters(broker: Broker, topic: str) -> Counter[str]:
    """Dead letters by ``fsd-reason``."""
    reasons: Counter[str] = Counter()
    if not await _has_topic(broker, topic):
        return reasons
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        idle = 0
        while idle < 3:
            batches = await consumer.getmany(timeout_ms=500)
            idle = 0 if batches else idle + 1
            for records in batches.values():
                for record in records:
                    reasons[dict(record.headers).get("fsd-reason", b"?").decode()] += 1
    finally:
        await consumer.stop()
    return reasons


def summary(report: dict[str, Any]) -> Iterator[str]:
    for name, run in report["trees"].items():
        yield (
            f"{name:7} {run['contacts']} contacts; page views and tracks in Freshsales:"
            f" {run['represented_in_freshsales']} of {run['page_views_and_tracks']}"
            f" (after the restart {run['after_restart_represented']} of"
            f" {run['after_restart_page_views_and_tracks']}); plan Pro on"
            f" {run['plan_pro_contacts']}; dead letters {run['dead_letters'] or 0};"
            f" {run['calls']} calls"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--before", type=Path, help="a checkout of an earlier commit to compare")
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    trees = {"today": Path(__file__).resolve().parent.parent}
    if args.before is not None:
        trees["before"] = args.before.resolve()

    async def both(broker: Broker) -> dict[str, Any]:
        return {name: await run_tree(broker, args.users, tree) for name, tree in trees.items()}

    with kafka_broker() as broker:
        runs = asyncio.run(both(broker))
    report = {
        "what": "anonymous visitors sign up, the service restarts, users go on by userId alone",
        "command": "python -m bench.website_bench"
        + (f" --before {args.before}" if args.before else ""),
        "users": args.users,
        "trees": runs,
        "broker": broker.kind,
        **machine("aiokafka", "aiohttp"),
    }
    for line in summary(report):
        print(line)
    if not args.no_write:
        write(RESULTS, report)


if __name__ == "__main__":
    main()
