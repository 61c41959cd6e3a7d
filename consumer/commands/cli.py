"""The ``freshsales-destination`` command (also ``python -m consumer``).

Each command registers its own sub-parser with a ``run`` callable. Commands that live outside
the service — ``demo`` and ``simulate``, which run the local stand-ins of ``sandbox/`` — are
found through the entry-point group ``freshsales_destination.commands`` (declared in
pyproject.toml), so the one console script offers them without the service importing them.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path

import orjson

from consumer import __version__
from consumer.commands.arguments import moment
from consumer.commands.check.report import add_check_command
from consumer.commands.dlq.cli import add_dlq_parser
from consumer.commands.forget import add_forget_command
from translate import (
    CatalogError,
    EventFilter,
    FieldCatalog,
    Flavor,
    Options,
    Pattern,
    parse_patterns,
)

_TRANSLATE_EPILOG = """\
Input: one Segment event per line (JSON). Output: one JSON line per event, in order, with
"line", "outcome" (deliver | filtered | unsupported | disabled | error) and either the requests
({"step", "method", "path", "body", "inject"?, "skip_if_known"?, "known_needs"?, "for"?}) or
the error "reason". Paths are relative to the API base. "inject" says which value an earlier
call's answer or an account setting fills in (null in the body until then); "for" limits a
request to a kind of person (a Classic lead or contact, known when it is due). A summary goes
to standard error.

Exit status: 0 when every event translated; 1 when at least one was rejected (each still has
its line); 2 for bad usage or an unreadable input or catalog file."""


def _patterns(text: str) -> tuple[Pattern, ...]:
    try:
        return parse_patterns(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _custom_field(text: str) -> str:
    if not re.fullmatch(r"cf_[a-z0-9_]+", text.strip()):
        raise argparse.ArgumentTypeError(f"expected a custom field's internal name, cf_…: {text!r}")
    return text.strip()


def _stage(text: str) -> tuple[str, str]:
    event, sep, stage = text.partition("=")
    if not sep or not event.strip() or not stage.strip():
        raise argparse.ArgumentTypeError(f"expected EVENT=STAGE, got {text!r}")
    return event.strip(), stage.strip()


PLUGINS = "freshsales_destination.commands"
"""Entry points of this group are called with the sub-parsers to add their own commands."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freshsales-destination",
        description="Deliver Segment events from Kafka to Freshsales.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tr = commands.add_parser(
        "translate",
        help="dry run: Segment events (JSON lines) → the Freshsales requests, as JSON lines",
        description="Show what the service would send for each event, without sending it.",
        epilog=_TRANSLATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tr.add_argument("input", nargs="?", default="-", help="file of JSON lines (default: stdin)")
    tr.add_argument(
        "--flavor",
        choices=[f.value for f in Flavor],
        default=Flavor.SUITE.value,
        help="Freshsales Suite (current product, default) or Classic (freshsales.io)",
    )
    tr.add_argument(
        "--catalog",
        type=Path,
        metavar="FILE",
        help='field catalog JSON: {"contacts": {"fields": [{"name", "type"}, ...]}, ...} as read'
        " from settings/<module>/fields; enables custom-field checks and type coercion",
    )
    tr.add_argument(
        "--track-activity-type",
        default="Segment Event",
        metavar="NAME",
        help="sales activity type for track events (default: %(default)s)",
    )
    tr.add_argument(
        "--page-activity-type",
        default="Page View",
        metavar="NAME",
        help="sales activity type for page events (default: %(default)s)",
    )
    tr.add_argument(
        "--screen-activity-type",
        metavar="NAME",
        help="sales activity type for screen events (default: the page type)",
    )
    tr.add_argument(
        "--group-id-field",
        type=_custom_field,
        metavar="CF_NAME",
        help="account custom field that receives a group's groupId (default: not sent)",
    )
    tr.add_argument(
        "--industry-type",
        action="append",
        metavar="NAME",
        help="an industry type of the account (repeatable): an industry trait naming another is"
        " dropped and reported, as the service does (default: every name passed on)",
    )
    tr.add_argument(
        "--include",
        type=_patterns,
        default=parse_patterns("*"),
        metavar="PATTERNS",
        help="events delivered, as EVENTS_INCLUDE: TYPE or TYPE:NAME with *, comma-separated"
        " (default: *)",
    )
    tr.add_argument(
        "--exclude",
        type=_patterns,
        default=(),
        metavar="PATTERNS",
        help="events never delivered, as EVENTS_EXCLUDE (wins over --include)",
    )
    tr.add_argument(
        "--lead-stage",
        default="Lead",
        metavar="NAME",
        help="Suite: lifecycle stage that marks a lead (default: %(default)s)",
    )
    tr.add_argument(
        "--stage-map",
        type=_stage,
        action="append",
        default=[],
        metavar="EVENT=STAGE",
        help="track event that moves the person to a lifecycle stage (repeatable)",
    )
    tr.add_argument(
        "--no-pages",
        action="store_true",
        help="page events are acknowledged but not delivered (quota saver); as --exclude page",
    )
    tr.add_argument(
        "--fallback-time",
        type=moment,
        metavar="ISO",
        help="time for track/page/screen events without a timestamp (default: now)",
    )
    tr.add_argument(
        "--no-infer-type",
        action="store_true",
        help="reject events without 'type' as the service does, instead of inferring"
        " it the way the Segment docs' examples are written",
    )

    tr.set_defaults(run=_translate)

    run = commands.add_parser(
        "run",
        help="the service: deliver Segment events from Kafka to Freshsales (configured from the"
        " environment)",
        description="Consume the topic, deliver each event to Freshsales, paced to the account's"
        " quota (FRESHSALES_RATE_LIMIT_*, FRESHSALES_QUOTA_SHARE; the replicas of a consumer group"
        " divide it by their partitions), commit only what is finished."
        " /metrics, /healthz and /readyz answer on HTTP_PORT. Settings come from the environment"
        " (README: Configuration). SIGTERM or"
        " SIGINT: stop fetching, finish in-flight work within SHUTDOWN_GRACE_SECONDS, commit,"
        " exit 0. Exit 1: delivery crashed; 2: configuration error.",
    )
    run.set_defaults(run=lambda args: _run_service())
    add_check_command(commands)
    add_dlq_parser(commands)
    add_forget_command(commands)
    for register in entry_points(group=PLUGINS):
        register.load()(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status


def _run_service() -> int:
    from consumer.commands.run import run_service  # aiokafka and aiohttp: only when it runs

    return run_service()


def _translate(args: argparse.Namespace) -> int:
    from consumer.commands import dryrun

    try:
        catalog = (
            FieldCatalog.from_json(orjson.loads(args.catalog.read_bytes()))
            if (args.catalog)
            else None
        )
        stream = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")  # noqa: SIM115
    except (OSError, orjson.JSONDecodeError, CatalogError) as exc:
        print(f"freshsales-destination translate: {exc}", file=sys.stderr)
        return 2
    # --no-pages is PAGE_EVENTS=drop, which is page in EVENTS_EXCLUDE.
    dropped = parse_patterns("page") if args.no_pages else ()
    options = Options(
        flavor=Flavor(args.flavor),
        catalog=catalog,
        track_activity_type=args.track_activity_type,
        page_activity_type=args.page_activity_type,
        lead_stage=args.lead_stage,
        stage_map=dict(args.stage_map),
        deliver_pages=not args.no_pages,
        screen_activity_type=args.screen_activity_type,
        group_id_field=args.group_id_field,
        industry_types=tuple(args.industry_type) if args.industry_type else None,
        events=EventFilter(args.include, args.exclude + dropped),
    )
    fallback = args.fallback_time or datetime.now(UTC)
    with stream:
        tally = dryrun.run(
            dryrun.numbered_lines(stream),
            sys.stdout.buffer,
            options,
            fallback,
            infer=not args.no_infer_type,
        )
    print(tally.summary(), file=sys.stderr)
    return 1 if tally.errors else 0
