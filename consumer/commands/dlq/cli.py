"""``freshsales-destination dlq replay``: its options, help, output and exit status.

Kept apart from ``consumer.commands.cli`` so that the command line only registers it; aiokafka
is imported when the command runs, not when ``--help`` is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TextIO

import orjson

from consumer.commands.arguments import moment, whole
from consumer.commands.dlq.selection import Filters, Listed, Summary
from consumer.errors import ConfigurationError
from consumer.settings import Settings
from translate import Reason

PROG = "freshsales-destination dlq replay"

_EPILOG = """\
Configured from the same environment as `run` (KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC,
KAFKA_DLQ_TOPIC, KAFKA_SECURITY_PROTOCOL and the other KAFKA_* settings); the Freshsales
settings are not needed.

What is read: every partition of the dead-letter topic, from its beginning to its end as of the
start of the command, without a consumer group (nothing is committed, so every run sees the
whole topic; letters written while it runs are left for the next run).

What is selected: letters whose fsd-reason is one of --reason (all when none is given), whose
fsd-dead-lettered-at (else the record's timestamp) is at or after --since and before --until,
at most --limit of them in reading order.

What is published: each letter's original key and value, byte for byte, with its original
headers minus the fsd-* ones plus fsd-replay-count (1 on the first replay, counting on when a
replayed event is dead-lettered and replayed again), to its source topic (fsd-source-topic,
else KAFKA_TOPIC), waiting for Kafka's acknowledgement. A source topic that does not exist is
reported, never created. The replayed events then go through the running service like any
other: quota, retries, de-duplication, and a new dead letter if they fail again.

Running it twice: the dead-letter topic is not changed by a replay (Kafka is append-only), so a
second run publishes the same events again. Freshsales gets no duplicates (the service
de-duplicates track and page events by messageId within DEDUPE_WINDOW_SECONDS, and identify is
an idempotent upsert), but the events are processed again and the identifies cost API quota
again: after a replay, narrow the next one with --since.

Output: one line per selected letter on standard output (replayed, would_replay, missing_topic
or failed; JSON objects with --json), then the summary (with --json: {"summary": {...}});
progress every 10000 letters read goes to standard error.

Exit status: 0 when every selected letter was replayed (or listed, with --dry-run); 1 when
publishing failed, a source topic is missing, Kafka could not be read, or it was interrupted;
2 for bad usage or configuration (including a dead-letter topic that does not exist).

More, including what a replay does to per-user order: docs/operations.md, "Replaying dead
letters"."""


def add_dlq_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = commands.add_parser(
        "dlq",
        help="dead letters: re-publish them to their source topic (dlq replay)",
        description="Work with the dead-letter topic (KAFKA_DLQ_TOPIC).",
    )
    actions = dlq.add_subparsers(dest="dlq_command", required=True, metavar="{replay}")
    rp = actions.add_parser(
        "replay",
        help="re-publish selected dead letters to the topic their events came from",
        description="Re-publish dead letters, selected by reason and time window, to their"
        " source topic, once the cause of their failure is fixed.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rp.add_argument(
        "--reason",
        action="append",
        choices=[r.value for r in Reason],
        metavar="REASON",
        help="replay letters with this reason code (repeatable; default: every reason): "
        + ", ".join(r.value for r in Reason),
    )
    rp.add_argument(
        "--since",
        type=moment,
        metavar="ISO",
        help="dead-lettered at or after this time (UTC if no offset)",
    )
    rp.add_argument(
        "--until",
        type=moment,
        metavar="ISO",
        help="dead-lettered before this time (UTC if no offset)",
    )
    rp.add_argument("--limit", type=whole(1), metavar="N", help="replay at most N letters")
    rp.add_argument(
        "--dry-run", action="store_true", help="publish nothing; list what would be replayed"
    )
    rp.add_argument("--json", action="store_true", help="JSON lines instead of text")
    rp.set_defaults(subparser=rp, run=run_dlq)


def run_dlq(args: argparse.Namespace) -> int:
    try:
        filters = Filters(frozenset(args.reason or ()), args.since, args.until, args.limit)
    except ValueError as exc:
        args.subparser.error(str(exc))  # exits 2, with the usage line
    try:
        settings = Settings.from_env(freshsales=False)
    except ConfigurationError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_replay(settings, filters, dry_run=args.dry_run, as_json=args.json))


async def _replay(settings: Settings, filters: Filters, *, dry_run: bool, as_json: bool) -> int:
    from consumer.commands.dlq.replay import replay

    out: TextIO = sys.stdout
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def emit(listed: Listed) -> None:
        print(orjson.dumps(listed.to_json()).decode() if as_json else listed.text(), file=out)

    try:
        summary = await replay(
            settings, filters, dry_run=dry_run, emit=emit, progress=_progress, stop=stop
        )
    except ConfigurationError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(orjson.dumps({"summary": summary.to_json()}).decode(), file=out)
    else:
        print(summary.text(), file=out)
    if summary.error:
        print(f"{PROG}: {summary.error}", file=sys.stderr)
    return 0 if summary.ok else 1


def _progress(summary: Summary) -> None:
    done = "listed" if summary.dry_run else "replayed"
    count = summary.selected if summary.dry_run else summary.replayed
    print(
        f"{PROG}: read {summary.scanned} of {summary.total} letters, {summary.selected} selected,"
        f" {count} {done}",
        file=sys.stderr,
        flush=True,
    )
