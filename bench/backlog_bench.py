"""When events outnumber the quota: a backlog of activities, then new leads behind it.

Run with ``python -m bench.backlog_bench [--users 300] [--events 12000] [--limit-s 360]``;
writes bench/results/backlog.json with the machine and versions.

The scenario: 12,000 track/page events of 300 users (each event names its user's email in
``context.traits``) wait in the topic; the simulator allows 400 calls a minute (and the hour no
less), and the service is configured with that quota. The service starts as a process
(``python -m consumer run``); 15 s after its first call reaches Freshsales, 10 identifies of new
people are produced behind the backlog. Recorded, with digests (``ACTIVITY_DIGEST=auto``, the
default) and without (``off``, one activity per event as before), each on a fresh topic and
account in the same run:

- when every event was represented in Freshsales: its messageId in the notes of an activity on
  its own person (polled once a second), and how many were after 4 minutes;
- events per call (every call the service made, start-up reads included);
- each new lead's time from produce to Freshsales' acceptance of its upsert;
- the peak RSS of the service's process.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench.recording import machine, write
from sandbox.audit import message_ids_of
from sandbox.broker import Broker, kafka_broker
from sandbox.process import service_env, start_service
from sandbox.simulator import Simulator, SimulatorConfig, running
from sandbox.topics import create_topic, delete_topics, own_topics, produce

RESULTS = Path(__file__).parent / "results" / "backlog.json"
API_KEY = "backlog-key"
PARTITIONS = 6
PER_MINUTE = 400
LEADS = 10
LEADS_AFTER_S = 15.0
PAGES = ("Pricing", "Docs", "Blog", "Home")
EVENTS = ("Feature Used", "Report Exported", "Invite Sent")


def backlog(users: int, events: int) -> Iterator[tuple[bytes, bytes]]:
    """``events`` track/page events spread over ``users``, keyed by userId, in time order."""
    for n in range(events):
        user = n % users
        uid = f"user-{user}"
        base: dict[str, Any] = {
            "userId": uid,
            "messageId": f"bl-{n}",
            "timestamp": f"2026-11-30T{8 + n // 3600 % 12:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "context": {"traits": {"email": f"user{user}@example.com"}},
        }
        if n % 3 == 0:
            event = {**base, "type": "page", "name": PAGES[n % 4], "properties": {"path": "/x"}}
        else:
            event = {**base, "type": "track", "event": EVENTS[n % 3], "properties": {"n": n}}
        yield uid.encode(), orjson.dumps(event)


def lead(n: int, run: str) -> tuple[bytes, bytes]:
    uid = f"lead-{run}-{n}"
    event = {"type": "identify", "userId": uid, "traits": {"email": f"{uid}@example.com"}}
    return uid.encode(), orjson.dumps(event)


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def represented(sim: Simulator, users: int) -> int:
    """Events whose messageId is in the notes of an activity on their own person."""
    state = sim.state("suite")
    owner = {c["id"]: c.get("email") for c in state.get("contacts", [])}
    found = set()
    for activity in state.get("sales_activities", []):
        email = owner.get(activity.get("targetable_id"))
        for mid in message_ids_of({"sales_activity": activity}):
            number = int(mid.removeprefix("bl-")) if mid.startswith("bl-") else -1
            if number >= 0 and email == f"user{number % users}@example.com":
                found.add(mid)
    return len(found)


async def scenario(
    broker: Broker, mode: str, users: int, events: int, limit_s: float
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    topic, group = f"backlog-{run}", f"backlog-{run}"
    await create_topic(broker.bootstrap_servers, topic, PARTITIONS)
    await produce(broker.bootstrap_servers, topic, backlog(users, events))
    config = SimulatorConfig(
        api_key=API_KEY, per_minute=PER_MINUTE, per_hour=PER_MINUTE * 60, log_limit=0
    )
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
                QUOTA_LOG_SECONDS="0",
                FRESHSALES_RATE_LIMIT_PER_MINUTE=str(PER_MINUTE),
                FRESHSALES_RATE_LIMIT_PER_HOUR=str(PER_MINUTE * 60),
                ACTIVITY_DIGEST=mode,
            )
            with tempfile.TemporaryFile() as log:
                process = await start_service(env, log)
                try:
                    return await _observe(
                        broker, topic, sim, process.pid, users, events, limit_s, run
                    )
                finally:
                    process.terminate()
                    await process.wait()
    finally:
        await delete_topics(broker.bootstrap_servers, own_topics(topic, group))


async def _observe(
    broker: Broker,
    topic: str,
    sim: Simulator,
    pid: int,
    users: int,
    events: int,
    limit_s: float,
    run: str,
) -> dict[str, Any]:
    started = time.monotonic()
    first_call: float | None = None
    leads_at: float | None = None
    produced: dict[str, float] = {}
    peak = 0
    all_in: float | None = None
    at_4_min: int | None = None
    count = 0
    while time.monotonic() - started < limit_s:
        await asyncio.sleep(1.0)
        peak = max(peak, rss_kb(pid))
        if first_call is None:
            # Delivery starts with the first call that is not one of the start-up reads.
            work = [
                r.at
                for r in sim.requests
                if "/selector/" not in r.path and "/settings/" not in r.path
            ]
            first_call = min(work) if work else None
        if (
            first_call is not None
            and leads_at is None
            and time.time() - first_call >= LEADS_AFTER_S
        ):
            records = [lead(n, run) for n in range(LEADS)]
            leads_at = time.time()
            await produce(broker.bootstrap_servers, topic, records)
            produced = {orjson.loads(v)["traits"]["email"]: leads_at for _, v in records}
        count = represented(sim, users)
        if at_4_min is None and first_call is not None and time.time() - first_call >= 240:
            at_4_min = count
        if count >= events and produced and len(_lead_times(sim, produced)) == LEADS:
            all_in = time.time() - (first_call or time.time())
            break
    calls = [r for r in sim.requests if r.status is not None]
    lead_s = _lead_times(sim, produced)
    return {
        "all_represented_after_s": round(all_in, 1) if all_in is not None else None,
        "represented_after_4_min": at_4_min if at_4_min is not None else count,
        "represented_at_end": count,
        "calls": len(calls),
        "calls_429": sum(1 for r in calls if r.status == 429),
        "events_per_call": round(count / len(calls), 2) if calls else None,
        "lead_produce_to_freshsales_s": sorted(round(s, 2) for s in lead_s.values()),
        "leads_delivered": len(lead_s),
        "peak_rss_mb": round(max(peak, rss_kb(pid, "VmHWM")) / 1024, 1),
    }


def _lead_times(sim: Simulator, produced: dict[str, float]) -> dict[str, float]:
    found: dict[str, float] = {}
    for r in sim.requests:
        if r.status == 200 and r.path.endswith("/contacts/upsert") and isinstance(r.body, dict):
            email = (r.body.get("contact") or {}).get("emails")
            if email in produced and email not in found:
                found[email] = r.at - produced[email]
    return found


async def main(users: int, events: int, limit_s: float, output: Path, modes: list[str]) -> None:
    with kafka_broker() as broker:
        results = {}
        for mode in modes:
            print(f"ACTIVITY_DIGEST={mode}: {events} events of {users} users at {PER_MINUTE}/min")
            results[mode] = await scenario(broker, mode, users, events, limit_s)
            print(orjson.dumps(results[mode]).decode())
        write(
            output,
            {
                "what": f"{events} track/page events of {users} users waiting, a {PER_MINUTE}/min"
                f" quota, then {LEADS} new leads {LEADS_AFTER_S:g} s after the first call",
                "digests": results.get("auto"),
                "one_activity_per_event": results.get("off"),
                "broker": broker.kind,
                **machine("aiokafka", "aiohttp"),
            },
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--events", type=int, default=12_000)
    parser.add_argument("--limit-s", type=float, default=360.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--modes", nargs="+", default=["auto", "off"], help="ACTIVITY_DIGEST values"
    )
    args = parser.parse_args()
    asyncio.run(main(args.users, args.events, args.limit_s, args.output, args.modes))
