"""The commands the local stand-ins add to ``freshsales-destination``: ``demo`` and ``simulate``.

They reach the console script through the entry-point group ``freshsales_destination.commands``
(pyproject.toml), so the service offers them without importing the sandbox.
"""

from __future__ import annotations

import argparse
import sys

from consumer.commands.arguments import number, whole

_count = whole(0)
_share = number(0.0, 1.0)
_millis = number(0.0)


def demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``freshsales-destination demo``."""
    parser = commands.add_parser(
        "demo",
        help="the whole product on embedded defaults: broker, simulator, sample events",
        description="Start a Kafka broker (KAFKA_BOOTSTRAP_SERVERS, else Docker via"
        " testcontainers, else the embedded broker) and the Freshsales simulator, produce the"
        " bundled sample events and generated ones, deliver them with the real service, then"
        " print what exists in the simulated CRM and the delivery counters.",
    )
    parser.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    from sandbox.demo import run_demo

    return run_demo(sys.stdout)


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text}")
    return value


def simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``freshsales-destination simulate``."""
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
    sim.set_defaults(subparser=sim, run=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    # Imported here: ``--help`` of any command must not start importing the simulator.
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
