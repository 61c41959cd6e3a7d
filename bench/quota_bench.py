"""Quota efficiency: Freshsales calls spent on a realistic corpus, against the minimum it needs.

Run with ``python -m bench.quota_bench [--users N] [--sessions S]``; writes
bench/results/quota.json with the machine and versions.

The corpus (``sandbox.corpus.sessions``, without companies) is what a website sends: each user
has S sessions. On the first they browse anonymously (two page views with an anonymousId
alone), sign up (an identify with a database userId, the anonymousId and the email) and send a
track; later sessions send the identify again (unchanged traits), two page views and a track
with the userId alone. Keyed by userId, else anonymousId, on a 3-partition topic.

A destination that delivers every page view as its own activity spends at least one upsert per
user plus one activity per page and track: users * (1 + 3 * S), 1,300 for 100 users with 4
sessions each, plus the start-up reads. This one spends one call fewer per user when the
visitor's first page views wait for the sign-up and go as one ``Before sign-up`` activity —
users * 3 * S, 1,200 — which happens whenever the pages are read before the identify that names
them (they are on another partition, keyed by the anonymousId: which is read first varies).

The real service runs on the embedded broker against the in-process simulator, quota unpaced
(we count calls here; the pacing itself has tests of its own), in four scenarios:

- ``service``: the defaults — identity map, skip-unchanged, coalescing, messageId dedupe;
- ``service_without_skip_unchanged``: ``SKIP_UNCHANGED_SECONDS=0`` and coalescing off, to show
  what those two save;
- ``restart_from_zero``: after ``service``, a new consumer group reads the whole topic again
  (what a crash before any commit would do) with the same ledger, identity map and waiting
  topic: the activities must not be sent again;
- ``every_request`` (computed, not run): each translation's requests all sent, as a destination
  with no identity map would (an anonymous page's activity counted as sent).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench.recording import machine, write
from consumer.logs import configure
from consumer.service import Service
from consumer.settings import Settings
from sandbox.broker import Broker, kafka_broker
from sandbox.corpus import sessions, user_key
from sandbox.simulator import RunningSimulator, Simulator, SimulatorConfig, running
from sandbox.topics import create_topic, delete_topics, produce
from translate import Options, translate_bytes

RESULTS = Path(__file__).parent / "results" / "quota.json"
API_KEY = "bench-key"
START_UP_READS = 7  # owners, stages, activity types, industry types, three modules' fields
PARTITIONS = 3
TIME_LIMIT_S = 300.0


def corpus(users: int, per_user: int) -> list[bytes]:
    return list(sessions(users, per_user, companies=False))


def minimum_calls(users: int, per_user: int) -> int:
    """One upsert per user and one activity per page and track."""
    return users * (1 + 3 * per_user)


def minimum_with_history(users: int, per_user: int) -> int:
    """The same, with each visitor's first page views as one history activity."""
    return users * 3 * per_user


def every_request(events: list[bytes]) -> int:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    return sum(len(translate_bytes(e, Options(), fallback_time=now).requests) for e in events)


async def run_service(
    broker: Broker,
    served: RunningSimulator,
    topic: str,
    total: int,
    group: str,
    ledger: str,
    **env: str,
) -> dict[str, object]:
    """Deliver the whole topic with a fresh group; the calls it made and what it counted."""
    before = len(served.simulator.requests)
    settings = Settings.from_env(
        {
            **broker.service_env(topic, group),
            "FRESHSALES_BASE_URL": served.base_url(),
            "FRESHSALES_API_KEY": API_KEY,
            "FRESHSALES_RATE_LIMIT_PER_MINUTE": "1000000000",
            "FRESHSALES_RATE_LIMIT_PER_HOUR": "1000000000",
            "KAFKA_LEDGER_TOPIC": ledger,
            "HTTP_PORT": "0",
            **env,
        }
    )
    service = Service(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    started = time.monotonic()

    def settled() -> bool:
        stats = service.stats
        # Every event finished, and every one that waited for its person gone to them.
        return (
            stats.finished >= total and sum(stats.after_wait.values()) >= stats.outcomes["waiting"]
        )

    try:
        while not settled():
            if task.done():
                raise RuntimeError(f"service stopped: {task.result()}")
            if time.monotonic() - started > TIME_LIMIT_S:
                raise RuntimeError(f"not finished in {TIME_LIMIT_S}s: {service.stats.outcomes}")
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    stats = service.stats
    calls = len(served.simulator.requests) - before
    return {
        "calls": calls,
        "start_up_reads": START_UP_READS,
        "event_calls": calls - START_UP_READS,
        "outcomes": dict(stats.outcomes),
        "after_waiting": dict(stats.after_wait),
        "histories": stats.histories,
        "skipped_unchanged": stats.unchanged,
        "lookups_saved": stats.lookups_saved,
        "retries": stats.retries,
        "rate_limited": service.budget.state().rate_limited,
    }


async def measure(broker: Broker, users: int, per_user: int) -> dict[str, object]:
    events = corpus(users, per_user)
    total = len(events)
    topic = f"quota-bench-{uuid.uuid4().hex[:8]}"
    ledger = f"{topic}.delivered"
    await create_topic(broker.bootstrap_servers, topic, PARTITIONS)
    await produce(broker.bootstrap_servers, topic, [(user_key(e), e) for e in events])
    scenarios: dict[str, object] = {}
    try:
        async with running(
            Simulator(SimulatorConfig(api_key=API_KEY, per_minute=0, per_hour=0))
        ) as s:
            scenarios["service"] = await run_service(broker, s, topic, total, f"{topic}-a", ledger)
            scenarios["restart_from_zero"] = await run_service(
                broker,
                s,
                topic,
                total,
                f"{topic}-b",
                ledger,
                KAFKA_IDENTITY_TOPIC=f"{topic}-a.identities",
                KAFKA_WAITING_TOPIC=f"{topic}-a.waiting",
            )
        async with running(
            Simulator(SimulatorConfig(api_key=API_KEY, per_minute=0, per_hour=0))
        ) as s:
            scenarios["service_without_skip_unchanged"] = await run_service(
                broker,
                s,
                topic,
                total,
                f"{topic}-c",
                f"{ledger}-c",
                SKIP_UNCHANGED_SECONDS="0",
                COALESCE_IDENTIFIES="false",
            )
    finally:
        await delete_topics(
            broker.bootstrap_servers,
            [
                topic,
                f"{topic}.dlq",
                ledger,
                f"{ledger}-c",
                *(f"{topic}-{g}.{own}" for g in "abc" for own in ("identities", "waiting")),
            ],
        )
    scenarios["every_request"] = {"event_calls": every_request(events)}
    return {"events": len(events), "scenarios": scenarios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    configure("warning", "json", stream=open(os.devnull, "w"))  # noqa: SIM115
    with kafka_broker() as broker:
        measured = asyncio.run(measure(broker, args.users, args.sessions))
    minimum = minimum_calls(args.users, args.sessions)
    with_history = minimum_with_history(args.users, args.sessions)
    events = int(measured["events"])  # type: ignore[call-overload]
    scenarios: dict[str, dict[str, object]] = measured["scenarios"]  # type: ignore[assignment]
    service = scenarios["service"]
    waste = int(service["event_calls"]) - minimum  # type: ignore[call-overload]
    report = {
        "what": (
            "Freshsales calls for sessions of 2 pages + identify + track (the first: the pages"
            " anonymous, before sign-up), then identify (unchanged) + 2 pages + track (userId only)"
        ),
        "users": args.users,
        "sessions_per_user": args.sessions,
        "events": events,
        "minimum_event_calls": minimum,
        "minimum_with_history": with_history,
        "start_up_reads": START_UP_READS,
        "wasted_calls": waste,
        "waste_share_of_events": round(waste / events, 4),
        "hours_at_1000_per_hour": round(int(service["calls"]) / 1000, 2),  # type: ignore[call-overload]
        "scenarios": scenarios,
        "broker": broker.kind,
        **machine("aiokafka"),
    }
    print(f"corpus: {args.users} users x {args.sessions} sessions = {events} events")
    print(
        f"minimum: {minimum} calls for the events ({with_history} with each visitor's first pages"
        f" as one history) + {START_UP_READS} start-up reads"
    )
    for name, figures in scenarios.items():
        print(f"  {name:<32} {figures['event_calls']:>6} event calls")
    print(f"waste: {waste} calls = {waste / events:.2%} of events (target <= 1%)")
    if not args.no_write:
        write(RESULTS, report)


if __name__ == "__main__":
    main()
