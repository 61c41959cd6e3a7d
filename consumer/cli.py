"""The ``freshsales-destination`` command (also ``python -m consumer``)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from consumer import __version__
from consumer.arguments import moment, number, whole
from consumer.check_report import add_check_command
from consumer.replay_cli import add_dlq_parser
from translate import (
    CatalogError,
    ConfigurationError,
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
    except ConfigurationError as exc:
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


_count = whole(0)
_share = number(0.0, 1.0)
_millis = number(0.0)


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text}")
    return value


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
        help="time for track/page events without a timestamp (default: now)",
    )
    tr.add_argument(
        "--no-infer-type",
        action="store_true",
        help="reject events without 'type' as the service does, instead of inferring"
        " it the way the Segment docs' examples are written",
    )

    commands.add_parser(
        "run",
        help="the service: deliver Segment events from Kafka to Freshsales (configured from the"
        " environment)",
        description="Consume the topic, deliver each event to Freshsales, paced to the account's"
        " quota (FRESHSALES_RATE_LIMIT_*, FRESHSALES_QUOTA_SHARE), commit only what is finished."
        " /metrics, /healthz and /readyz answer on HTTP_PORT. Settings come from the environment"
        " (README: Configuration). SIGTERM or"
        " SIGINT: stop fetching, finish in-flight work within SHUTDOWN_GRACE_SECONDS, commit,"
        " exit 0. Exit 1: delivery crashed; 2: configuration error.",
    )
    commands.add_parser(
        "demo",
        help="the whole product on embedded defaults: broker, simulator, sample events",
        description="Start a Kafka broker (KAFKA_BOOTSTRAP_SERVERS, else Docker via"
        " testcontainers, else the embedded broker) and the Freshsales simulator, produce the"
        " bundled sample events and generated ones, deliver them with the real service, then"
        " print what exists in the simulated CRM and the delivery counters.",
    )
    _add_simulate(commands)
    add_check_command(commands)
    add_dlq_parser(commands)
    return parser


def _add_simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser(
        "simulate",
        help="run a local Freshsales API simulator (for tests, demos and benchmarks)",
        description="Serve a simulated Freshsales account over HTTP until SIGINT/SIGTERM. The"
        " base URL(s), the API key and the /_sim control endpoints are printed on start;"
        " docs/simulator.md describes what it enforces.",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    sim.add_argument(
        "--port",
        type=_port,
        default=8765,
        help="TCP port; 0 = any free port (default: %(default)s)",
    )
    sim.add_argument("--api-key", default="sim-api-key", help="accepted key (default: %(default)s)")
    sim.add_argument(
        "--per-minute",
        type=_count,
        default=400,
        help="requests per minute per account; 0 = unlimited",
    )
    sim.add_argument(
        "--per-hour", type=_count, default=1000, help="requests per hour per account; 0 = unlimited"
    )
    sim.add_argument(
        "--fail-rate", type=_share, default=0.0, help="share of requests answered 500/502/503"
    )
    sim.add_argument(
        "--drop-rate", type=_share, default=0.0, help="share of requests dropped without answer"
    )
    sim.add_argument(
        "--latency-ms", type=_millis, default=0.0, help="delay added before every answer"
    )
    sim.add_argument(
        "--flavor",
        choices=["suite", "classic", "both"],
        default="both",
        help="which accounts to serve: Suite under /crm/sales/api, Classic under /api"
        " (default: %(default)s)",
    )
    sim.add_argument("--seed", type=int, default=0, help="seed of the random faults")
    sim.add_argument(
        "--create-status",
        type=int,
        choices=[200, 201],
        default=200,
        help="status of a create or upsert-create (default: %(default)s)",
    )
    sim.add_argument(
        "--ignore-unknown-fields",
        action="store_true",
        help="ignore unknown fields instead of answering 400",
    )
    sim.set_defaults(subparser=sim)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from sandbox.demo import run_demo  # the sandbox is never imported by the service path

        return run_demo(sys.stdout)
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "check":
        from consumer.check import main as check

        return check(args.json, args.timeout, args.sample)
    if args.command == "dlq":
        from consumer.replay_cli import run_dlq

        return run_dlq(args)
    if args.command == "run":
        from consumer.app import run_service

        return run_service()
    return _translate(args)


def _simulate(args: argparse.Namespace) -> int:
    # Imported here: the service path never imports the sandbox.
    from sandbox.simulator import SimulatorConfig
    from sandbox.simulator.serve import serve

    if args.fail_rate + args.drop_rate > 1:
        args.subparser.error("--fail-rate plus --drop-rate must not exceed 1")
    config = SimulatorConfig(
        api_key=args.api_key,
        flavors=("suite", "classic") if args.flavor == "both" else (args.flavor,),
        per_minute=args.per_minute,
        per_hour=args.per_hour,
        fail_rate=args.fail_rate,
        drop_rate=args.drop_rate,
        latency_ms=args.latency_ms,
        seed=args.seed,
        create_status=args.create_status,
        ignore_unknown_fields=args.ignore_unknown_fields,
    )
    return serve(config, args.host, args.port, sys.stdout)


def _translate(args: argparse.Namespace) -> int:
    from consumer import dryrun

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
