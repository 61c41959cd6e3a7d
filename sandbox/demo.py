"""``freshsales-destination demo``: the whole product on embedded defaults.

Starts a Kafka broker (``sandbox.broker``: an existing one, testcontainers, or the embedded Tansu
broker), the Freshsales simulator, produces the bundled sample events plus generated ones, runs the
real service until every event is finished, then prints what exists in the simulated CRM and the
delivery counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import resources
from typing import IO

import orjson

from consumer.engine.latency import Latency
from consumer.engine.stats import Stats
from consumer.logs import configure
from consumer.service import Service
from consumer.settings import Settings
from sandbox.broker import Broker, kafka_broker
from sandbox.corpus import sessions, user_key
from sandbox.simulator import Simulator, SimulatorConfig, running
from sandbox.topics import create_topic, delete_topics, produce
from translate import Options, TranslationError, translate_bytes

SAMPLES = "segment_events.jsonl"
GENERATED_USERS = 40
SESSIONS = 2  # the second session's identifies repeat the first's traits: no call for them
TIME_LIMIT_S = 120.0
API_KEY = "demo-api-key"


def sample_lines() -> list[bytes]:
    text = resources.files("sandbox").joinpath("samples", SAMPLES).read_bytes()
    return [line for line in text.splitlines() if line.strip()]


def run_demo(out: IO[str]) -> int:
    configure(level="error", fmt="console", stream=sys.stderr)
    out.write("Freshsales destination demo\n")
    with kafka_broker() as broker:
        out.write(f"  broker:     {broker.kind} at {broker.bootstrap_servers}\n")
        return asyncio.run(_demo(broker, out))


async def _demo(broker: Broker, out: IO[str]) -> int:
    # The simulator enforces Freshsales' default quota; the service paces itself to it.
    simulator = Simulator(SimulatorConfig(api_key=API_KEY, per_minute=400, per_hour=1000))
    events = sample_lines() + list(sessions(GENERATED_USERS, SESSIONS))
    topic = f"segment-events-demo-{uuid.uuid4().hex[:8]}"
    async with running(simulator) as served:
        out.write(
            f"  simulator:  {served.base_url()} (Freshsales Suite, quota 400/minute, 1000/hour)\n"
        )
        await create_topic(broker.bootstrap_servers, topic, 3)
        # Keyed by user, as Segment's Kafka sources do: one user's events stay on one partition.
        await produce(broker.bootstrap_servers, topic, [(user_key(e), e) for e in events])
        out.write(
            f"  topic:      {topic}: {len(sample_lines())} sample events"
            f" + {len(events) - len(sample_lines())} generated"
            f" ({GENERATED_USERS} users x {SESSIONS} sessions)\n\n"
        )
        settings = Settings.from_env(
            {
                **broker.service_env(topic, f"demo-{topic}"),
                "FRESHSALES_BASE_URL": served.base_url(),
                "FRESHSALES_API_KEY": API_KEY,
                "FRESHSALES_STAGE_MAP": "Order Completed=Customer",
                "SHUTDOWN_GRACE_SECONDS": "5",
                "HTTP_PORT": "0",
            }
        )
        service = Service(settings)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        finished = await _watch(service, task, len(events), out)
        stop.set()
        status = await task
        _report(simulator, service, len(events), out)
        if finished and not status:
            finished = await _session_digest(broker, served.base_url(), simulator, out)
        # The embedded broker keeps everything in memory; an external one should not keep them.
        try:
            await delete_topics(broker.bootstrap_servers, _topics_of(topic, settings))
        except Exception as exc:  # cleanup only; the demo's result stands
            print(f"demo: could not delete the demo topics: {exc!r}", file=sys.stderr)
    if not finished or status:
        out.write("demo: not every event finished in time\n")
        return 1
    return 0


async def _watch(service: Service, task: asyncio.Task[int], total: int, out: IO[str]) -> bool:
    """Progress while it runs: redrawn in place on a terminal, a line a second otherwise. Until
    the service has joined its consumer group, one line says so (nothing can finish before)."""
    started = time.monotonic()
    tty = out.isatty()
    start, end = ("\r", "") if tty else ("", "\n")
    shown = -1.0
    joined = False
    while time.monotonic() - started < TIME_LIMIT_S and not task.done():
        stats = service.stats
        if not joined:
            joined = bool(service.engine and service.engine.assigned) or stats.finished > 0
            if not joined:
                if shown < 0:
                    shown = 0.0
                    out.write(JOINING)
                    out.flush()
                await asyncio.sleep(0.1)
                continue
        # Done once every event is finished, and every one that waited for its person (a
        # visitor's page views before sign-up) has gone to them.
        done = (
            stats.finished >= total and sum(stats.after_wait.values()) >= stats.outcomes["waiting"]
        )
        if tty or done or time.monotonic() - shown >= 1.0:
            shown = time.monotonic()
            out.write(
                f"{start}  progress:   {stats.finished}/{total} finished ({_outcomes(stats)}),"
                f" {stats.calls} Freshsales calls{end}"
            )
            out.flush()
        if done:
            if tty:
                out.write("\n")
            out.write(f"  done in {time.monotonic() - started:.1f}s\n\n")
            return True
        await asyncio.sleep(0.1)
    out.write("\n")
    return False


SESSION_S = 3
SESSION = [
    {"type": "page", "name": "Pricing", "properties": {"path": "/pricing"}},
    {"type": "track", "event": "Trial Started", "properties": {"plan": "pro"}},
    {"type": "page", "name": "Docs", "properties": {"path": "/docs/setup"}},
    {"type": "track", "event": "Feature Used", "properties": {"feature": "reports"}},
    {"type": "track", "event": "Feature Used", "properties": {"feature": "exports"}},
    {"type": "page", "name": "Pricing", "properties": {"path": "/pricing"}},
]


async def _session_digest(broker: Broker, base_url: str, sim: Simulator, out: IO[str]) -> bool:
    """One visitor's session with ACTIVITY_DIGEST=<seconds>: six events, one activity.

    (With the default, ``auto``, the same happens to whatever waits for the quota; a backlog
    takes the quota's minute to build up, which is longer than a demo should take:
    ``python -m bench.backlog_bench`` shows it.)"""
    topic = f"segment-events-session-{uuid.uuid4().hex[:8]}"
    user = {"userId": "ada-lovelace", "context": {"traits": {"email": "ada@example.com"}}}
    events = [
        orjson.dumps(
            {**user, **e, "messageId": f"session-{n}", "timestamp": f"2026-11-30T10:0{n}:00Z"}
        )
        for n, e in enumerate(SESSION)
    ]
    await create_topic(broker.bootstrap_servers, topic, 1)
    await produce(broker.bootstrap_servers, topic, [(b"ada-lovelace", e) for e in events])
    settings = Settings.from_env(
        {
            **broker.service_env(topic, f"demo-{topic}"),
            "FRESHSALES_BASE_URL": base_url,
            "FRESHSALES_API_KEY": API_KEY,
            "ACTIVITY_DIGEST": str(SESSION_S),
            "SHUTDOWN_GRACE_SECONDS": "5",
            "HTTP_PORT": "0",
        }
    )
    service = Service(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    # The service's counters are the thing to watch; they have no event to wait on.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            while service.stats.finished < len(events) and not task.done():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    stop.set()
    status = await task
    await delete_topics(broker.bootstrap_servers, _topics_of(topic, settings))
    digest = next(
        # The main run's digests are in the same account: this one holds the session's events.
        (
            a
            for a in sim.state("suite")["sales_activities"]
            if "messageId: session-0" in str(a.get("notes"))
        ),
        None,
    )
    out.write(
        f"\nA session summary (ACTIVITY_DIGEST={SESSION_S}: a person's events within"
        f" {SESSION_S} s become one activity)\n"
    )
    if digest is None or status:
        out.write("  demo: the session's digest did not arrive\n")
        return False
    out.write(f"  {len(events)} events, {service.stats.calls} calls; in Freshsales:\n")
    out.write(f"  title  {digest['title']}\n")
    for n, line in enumerate(str(digest["notes"]).splitlines()):
        out.write(f"  {'notes' if n == 0 else '':<6} {line}\n")
    return True


def _history(state: Mapping[str, list[dict[str, object]]], out: IO[str]) -> None:
    """A generated visitor's page views from before they signed up, as their lead shows them."""
    history = next(
        (a for a in state.get("sales_activities", []) if str(a["title"]).startswith("Before")),
        None,
    )
    if history is None:
        return
    owner = next(
        (c for c in state.get("contacts", []) if c["id"] == history.get("targetable_id")), {}
    )
    out.write(
        f"\nA visitor's history (their page views while anonymous, on the lead they became,"
        f" {owner.get('email', '?')})\n"
    )
    out.write(f"  title  {history['title']}\n")
    for n, line in enumerate(str(history["notes"]).splitlines()):
        out.write(f"  {'notes' if n == 0 else '':<6} {line}\n")


def _topics_of(topic: str, settings: Settings) -> list[str]:
    return [
        topic,
        settings.dlq_topic,
        settings.ledger_topic,
        settings.identity_topic,
        settings.waiting_topic,
    ]


def _report(simulator: Simulator, service: Service, total: int, out: IO[str]) -> None:
    state = simulator.state("suite")
    stages = dict(simulator.account("suite").seed.names("lifecycle_stages"))
    contacts = state.get("contacts", [])
    by_stage = Counter(stages.get(c.get("lifecycle_stage_id") or 0, "?") for c in contacts)
    out.write("What now exists in the simulated CRM\n")
    out.write(f"  {'contacts':<16}{len(contacts):>5}   by lifecycle stage: ")
    out.write(", ".join(f"{name} {n}" for name, n in sorted(by_stage.items())) + "\n")
    for module in ("sales_accounts", "deals", "sales_activities"):
        out.write(f"  {module:<16}{len(state.get(module, [])):>5}\n")
    seed = next((c for c in contacts if c.get("email") == "john.doe@example.com"), None)
    if seed is not None:
        names = {a["id"]: a["name"] for a in state.get("sales_accounts", [])}
        accounts = ", ".join(
            f"{names.get(link['id'], link['id'])}{' (primary)' if link['is_primary'] else ''}"
            for link in seed.get("sales_accounts", [])
        )
        out.write(
            f"  e.g. contact {seed['id']}: {seed.get('display_name')} <{seed['email']}>,"
            f" custom fields {seed.get('custom_field')}, accounts {accounts}\n"
        )
    _history(state, out)
    stats = service.stats
    out.write("\nDelivery counters\n")
    for outcome in OUTCOMES:
        out.write(f"  {outcome:<16}{stats.outcomes[outcome]:>5}   {OUTCOMES[outcome]}\n")
        if outcome == "waiting":
            out.write(
                f"  {'  stitched':<16}{stats.after_wait['stitched']:>5}   of them, delivered on"
                f" the person they turned out to be, in {stats.histories} Before sign-up"
                f" activit{'y' if stats.histories == 1 else 'ies'}\n"
            )
    for line in dead_letter_lines(stats.dead_letters, intended_failures(sample_lines())):
        out.write(line + "\n")
    out.write(f"  {'calls':<16}{stats.calls:>5}   ({stats.calls / max(total, 1):.2f} per event)\n")
    out.write(f"  {'calls saved':<16}{stats.lookups_saved + stats.unchanged:>5}")
    out.write(
        f"   ({stats.lookups_saved} people known from identify,"
        f" {stats.unchanged} unchanged upserts skipped)\n"
    )
    out.write(f"  {'retries':<16}{stats.retries:>5}\n")
    quota = service.budget.state()
    out.write("\nQuota (this process' view)\n")
    out.write(
        f"  minute          {quota.minute.used:>5} of {quota.minute.limit} used\n"
        f"  hour            {quota.hour.used:>5} of {quota.hour.limit} used"
        " (start-up reads included)\n"
        f"  429 answers     {quota.rate_limited:>5}\n"
        f"{wait_line(stats.latency)}\n"
    )


JOINING = "  starting:   reading the account, joining the consumer group (a few seconds)\n"


def wait_line(latency: Latency) -> str:
    """How long events took, read to finished: most of it is their turn in the quota's pace."""
    return (
        f"  time per event  longest {latency.longest_s:.1f}s, average {latency.average_s:.1f}s"
        " from being read to finished (mostly each event's turn in the quota's pace)"
    )


def intended_failures(samples: Iterable[bytes]) -> Counter[str]:
    """Dead-letter reasons of the samples that are invalid on purpose, to show dead letters."""
    found: Counter[str] = Counter()
    for sample in samples:
        try:
            translate_bytes(sample, Options(), fallback_time=datetime.now(UTC))
        except TranslationError as error:
            found[error.reason.value] += 1
    return found


def dead_letter_lines(letters: Mapping[str, int], intended: Mapping[str, int]) -> list[str]:
    """A line per reason, saying which letters come from samples invalid on purpose."""
    lines = []
    for reason, n in sorted(letters.items()):
        on_purpose = min(n, intended.get(reason, 0))
        if on_purpose == n:
            note = (
                "   (intended: a sample invalid on purpose)"
                if n == 1
                else (f"   (intended: {n} samples invalid on purpose)")
            )
        elif on_purpose:
            note = f"   ({on_purpose} intended: samples invalid on purpose)"
        else:
            note = ""
        lines.append(f"    dead letter: {reason} {n}{note}")
    return lines


OUTCOMES = {
    "delivered": "sent to Freshsales",
    "waiting": "of people not known yet (anonymous visitors): kept in Kafka until they sign up",
    "coalesced": "identifies merged into a later one of the same user",
    "folded": "track/page/screen events delivered inside a digest activity",
    "deduplicated": "track/page/screen whose messageId was already delivered",
    "skipped": "not for Freshsales (filtered, or an unsupported type)",
    "dead_lettered": "in the dead-letter topic, with the reason",
}


def _outcomes(stats: Stats) -> str:
    return ", ".join(
        f"{stats.outcomes[o]} {o.replace('_', '-')}"
        for o in OUTCOMES
        if stats.outcomes[o] or o in ("delivered", "dead_lettered", "skipped")
    )
