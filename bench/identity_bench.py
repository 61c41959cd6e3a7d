"""Who people are, at scale: a large identity map and many visitors waiting, through a SIGKILL.

Run with ``python -m bench.identity_bench [--people 100000] [--visitors 100000] [--pages 3]
[--signups 1000]``; writes bench/results/identity.json with the machine and versions.

The service runs as a process (``python -m consumer run``, unpaced: the simulator enforces no
quota) on the embedded broker, against the simulator in this process:

1. **Fill.** ``--people`` identifies (database userIds, the email in the traits, an anonymousId)
   and ``--visitors`` times ``--pages`` anonymous page views (``anonymousId`` only, keyed by it, as
   analytics.js sends them) are produced, interleaved. The service delivers the people (one
   upsert each) and keeps the page views waiting; RSS is sampled twice a second.
2. **SIGKILL**, once every person is known and every page view kept.
3. **Restart.** ``--signups`` of the visitors sign up (an identify with a userId, their
   anonymousId and an email, then a ``Signed Up`` track with the userId alone), and as many
   known people send a track with their userId alone. Timed from the restart's spawn until every
   sign-up's ``Before sign-up`` history, every sign-up track and every known person's track is in
   the simulator; RSS sampled as before.

Recorded: the map and the waiting room's sizes, the start-up read of the identity topic (records,
seconds), the times, each process's peak RSS, the calls per signed-up visitor by kind, and the
calls made for visitors who never signed up (none expected).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.backlog_bench import rss_kb
from bench.recording import machine, write
from sandbox.broker import Broker, kafka_broker
from sandbox.process import service_env, start_service
from sandbox.simulator import RunningSimulator, Simulator, SimulatorConfig, running
from sandbox.topics import create_topic, delete_topics, own_topics, produce

RESULTS = Path(__file__).parent / "results" / "identity.json"
API_KEY = "identity-key"
PARTITIONS = 6
LIMIT_S = 900.0


def person(n: int) -> tuple[bytes, bytes]:
    uid = str(4_000_000 + n)  # a database id, as most sites' userIds are
    event = {
        "type": "identify",
        "userId": uid,
        "anonymousId": f"known-{n:07d}-b6f1",
        "messageId": f"identify-{n}",
        "timestamp": "2026-11-02T09:00:00Z",
        "traits": {"email": f"member{n}@example.org", "firstName": f"Member{n}", "plan": "pro"},
    }
    return uid.encode(), orjson.dumps(event)


def visitor(v: int) -> str:
    return f"{uuid.UUID(int=v + 1)}"


def page_view(v: int, n: int) -> tuple[bytes, bytes]:
    anonymous = visitor(v)
    event = {
        "type": "page",
        "anonymousId": anonymous,
        "name": ("Home", "Pricing", "Docs")[n % 3],
        "messageId": f"view-{v}-{n}",
        "timestamp": f"2026-11-30T10:{n:02d}:00Z",
        "properties": {"path": ("/", "/pricing", "/docs")[n % 3], "referrer": "https://search"},
        "context": {"library": {"name": "analytics.js", "version": "5.2.0"}},
    }
    return anonymous.encode(), orjson.dumps(event)


def fill(people: int, visitors: int, pages: int) -> Iterator[tuple[bytes, bytes]]:
    """People and visitors interleaved, as a day's traffic is."""
    views = ((v, n) for n in range(pages) for v in range(visitors))
    per_person = max(1, (visitors * pages) // max(1, people))
    for n in range(people):
        yield person(n)
        for _ in range(per_person):
            found = next(views, None)
            if found is not None:
                yield page_view(*found)
    for found in views:
        yield page_view(*found)


def restart_events(signups: int) -> list[tuple[bytes, bytes]]:
    records = []
    for v in range(signups):
        uid = f"s-{v}"
        identify = {
            "type": "identify",
            "userId": uid,
            "anonymousId": visitor(v),
            "messageId": f"signup-{v}",
            "traits": {"email": f"signup{v}@example.org", "firstName": "New"},
        }
        signed = {"type": "track", "userId": uid, "event": "Signed Up", "messageId": f"su-{v}"}
        records += [(uid.encode(), orjson.dumps(identify)), (uid.encode(), orjson.dumps(signed))]
        known = {
            "type": "track",
            "userId": str(4_000_000 + v),
            "event": "Report Exported",
            "messageId": f"known-track-{v}",
        }
        records.append((str(4_000_000 + v).encode(), orjson.dumps(known)))
    return records


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def metrics(port: int) -> dict[str, float]:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as answer,
        ):
            text = await answer.text()
    except aiohttp.ClientError:
        return {}
    found: dict[str, float] = {}
    for name in (
        "fsd_identities_people",
        "fsd_waiting_events",
        "fsd_identities_loaded_records",
        "fsd_identities_load_seconds",
        "fsd_stitched_events_total",
    ):
        match = re.search(rf"^{name} (\S+)$", text, re.M)
        if match:
            found[name] = float(match.group(1))
    return found


def activities(served: RunningSimulator) -> Counter[str]:
    titles: Counter[str] = Counter()
    for activity in served.simulator.state("suite")["sales_activities"]:
        title = str(activity["title"])
        titles["history" if title.startswith("Before sign-up:") else title] += 1
    return titles


async def run(
    broker: Broker, people: int, visitors: int, pages: int, signups: int
) -> dict[str, Any]:
    topic = f"identity-{uuid.uuid4().hex[:8]}"
    group = f"g-{topic}"
    await create_topic(broker.bootstrap_servers, topic, PARTITIONS)
    # The whole request log is kept: the calls per visitor are counted from it.
    simulator = Simulator(SimulatorConfig(api_key=API_KEY, per_minute=0, per_hour=0, log_limit=0))
    report: dict[str, Any] = {}
    try:
        async with running(simulator) as served:
            records = list(fill(people, visitors, pages))
            await produce(broker.bootstrap_servers, topic, records)
            port = free_port()
            env = service_env(
                broker,
                topic,
                group,
                served.base_url(),
                API_KEY,
                HTTP_PORT=str(port),
                LOG_LEVEL="warning",
                FRESHSALES_RATE_LIMIT_PER_MINUTE="1000000000",
                FRESHSALES_RATE_LIMIT_PER_HOUR="1000000000",
                MAX_IN_FLIGHT="64",
            )
            with tempfile.TemporaryFile() as log:
                report["fill"] = await _fill(env, port, log, people, visitors * pages)
            report["fill"]["calls"] = len(simulator.requests)
            await produce(broker.bootstrap_servers, topic, restart_events(signups))
            with tempfile.TemporaryFile() as log:
                report["restart"] = await _restart(env, port, log, served, signups)
            report["calls_per_signed_up_visitor"] = _signup_calls(simulator, signups)
            report["calls_for_visitors_who_never_signed_up"] = _anonymous_calls(simulator, signups)
    finally:
        await delete_topics(broker.bootstrap_servers, own_topics(topic, group))
    return report


async def _fill(
    env: dict[str, str], port: int, log: Any, people: int, views: int
) -> dict[str, Any]:
    started = time.monotonic()
    process = await start_service(env, log)
    peak, seen = 0, {}
    try:
        async with asyncio.timeout(LIMIT_S):
            while True:
                if process.returncode is not None:
                    log.seek(0)
                    raise RuntimeError(f"the service stopped: {log.read()[-3000:]!r}")
                peak = max(peak, rss_kb(process.pid))
                seen = await metrics(port)
                if (
                    seen.get("fsd_identities_people", 0) >= people
                    and seen.get("fsd_waiting_events", 0) >= views
                ):
                    break
                await asyncio.sleep(0.5)
        took = time.monotonic() - started
        await asyncio.sleep(2.0)  # let the last commits go out, as a running service would
        peak = max(peak, rss_kb(process.pid))
    finally:
        process.kill()  # SIGKILL
        await process.wait()
    return {
        "seconds": round(took, 1),
        "people_known": seen.get("fsd_identities_people"),
        "events_waiting": seen.get("fsd_waiting_events"),
        "peak_rss_mb": round(peak / 1024, 1),
        "ended_by": "SIGKILL",
    }


async def _restart(
    env: dict[str, str], port: int, log: Any, served: RunningSimulator, signups: int
) -> dict[str, Any]:
    started = time.monotonic()
    process = await start_service(env, log)
    peak, seen, loaded = 0, Counter[str](), dict[str, float]()
    timeline: list[dict[str, float]] = []
    try:
        async with asyncio.timeout(LIMIT_S):
            while True:
                if process.returncode is not None:
                    log.seek(0)
                    raise RuntimeError(f"the service stopped: {log.read()[-3000:]!r}")
                peak = max(peak, rss_kb(process.pid))
                seen = activities(served)
                found = await metrics(port)
                if found and (not timeline or time.monotonic() - started >= timeline[-1]["at"] + 5):
                    timeline.append(
                        {
                            "at": round(time.monotonic() - started, 1),
                            "rss_mb": round(rss_kb(process.pid) / 1024),
                            "waiting": found.get("fsd_waiting_events", 0),
                            "stitched": found.get("fsd_stitched_events_total", 0),
                            "delivered": sum(seen.values()),
                        }
                    )
                if not loaded and found.get("fsd_identities_load_seconds", 0) > 0:
                    loaded = found
                if (
                    seen["history"] >= signups
                    and seen["Signed Up"] >= signups
                    and seen["Report Exported"] >= signups
                ):
                    break
                await asyncio.sleep(0.2)
        took = time.monotonic() - started
        end = await metrics(port)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
    return {
        "seconds_from_start_to_all_delivered": round(took, 1),
        "identity_records_read_at_start": loaded.get("fsd_identities_loaded_records"),
        "identity_read_seconds": round(loaded.get("fsd_identities_load_seconds", 0.0), 2),
        "people_known": end.get("fsd_identities_people"),
        "events_still_waiting": end.get("fsd_waiting_events"),
        "stitched": end.get("fsd_stitched_events_total"),
        "activities": dict(seen),
        "peak_rss_mb": round(peak / 1024, 1),
        "timeline": timeline,
    }


def _signup_calls(simulator: Simulator, signups: int) -> dict[str, float]:
    """Writing calls made for the signed-up visitors, by kind, per visitor."""
    kinds: Counter[str] = Counter()
    for request in simulator.requests:
        body = request.body if isinstance(request.body, dict) else {}
        contact = body.get("contact") or {}
        activity = body.get("sales_activity") or {}
        if request.method == "GET":
            continue
        if str(contact.get("emails", "")).startswith("signup"):
            kinds["upsert"] += 1
        title = str(activity.get("title", ""))
        if title.startswith("Before sign-up:"):
            kinds["history"] += 1
        elif title == "Signed Up":
            kinds["sign-up track"] += 1
    per = {kind: round(count / signups, 3) for kind, count in kinds.items()}
    per["all"] = round(sum(kinds.values()) / signups, 3)
    return per


def _anonymous_calls(simulator: Simulator, signups: int) -> int:
    """Calls whose body names a visitor that never signed up (their page views' messageIds)."""
    calls = 0
    for request in simulator.requests:
        text = orjson.dumps(request.body) if request.body is not None else b""
        for match in re.finditer(rb"view-(\d+)-", text):
            if int(match.group(1)) >= signups:
                calls += 1
                break
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--visitors", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--signups", type=int, default=1_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    with kafka_broker() as broker:
        report = asyncio.run(run(broker, args.people, args.visitors, args.pages, args.signups))
    report = {
        "command": "python -m bench.identity_bench",
        "people": args.people,
        "visitors": args.visitors,
        "page_views_each": args.pages,
        "signups": args.signups,
        **report,
        "machine": machine("aiokafka", "aiohttp", "orjson"),
    }
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    write(args.output, report)


if __name__ == "__main__":
    main()
