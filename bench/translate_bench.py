"""Translations per second on one core: parse (orjson) + translate, for a realistic event mix.

Run with ``make bench`` or ``python -m bench.translate_bench [--events N] [--rounds R]``.
Prints a table and writes bench/results/translate.json with the machine and versions.

The mix imitates analytics.js output (context with library, page, userAgent, ip): 20% identify
(address, company, custom fields), 40% track (properties incl. nested products), 40% page. A
plain identify (the seed's first example with a type) is measured alone, beside a naive
parse-and-build-one-dict baseline in the same run (the shape behind the ~164k/s research figure),
so the ratio holds even when the machine's speed drifts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path

import orjson

from translate import Options, translate_bytes

RESULTS = Path(__file__).parent / "results" / "translate.json"


def _context(rng: random.Random, user: int) -> dict[str, object]:
    return {
        "library": {"name": "analytics.js", "version": "5.2.0"},
        "ip": f"203.0.113.{user % 250}",
        "locale": "en-GB",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0",
        "page": {"path": "/pricing", "url": "https://acme.example/pricing", "title": "Pricing"},
        "traits": {"email": f"user{user}@acme.example"},
    }


def make_event(rng: random.Random, n: int) -> bytes:
    user = rng.randrange(10_000)
    base: dict[str, object] = {
        "messageId": f"ajs-next-{n:012d}",
        "anonymousId": f"anon-{user:08x}",
        "userId": f"user-{user}",
        "timestamp": "2026-11-02T10:01:12.345Z",
        "sentAt": "2026-11-02T10:01:12.400Z",
        "context": _context(rng, user),
    }
    roll = rng.random()
    if roll < 0.2:
        base |= {
            "type": "identify",
            "traits": {
                "name": "Ada King Lovelace",
                "email": f"user{user}@acme.example",
                "title": "CTO",
                "phone": "+44 20 7946 0000",
                "address": {"street": "12 Analytical Row", "city": "London", "postalCode": "N1"},
                "cfAlternateNumber": "98765432",
                "plan": "enterprise",
                "company": {"name": f"Acme {user % 500}", "website": "https://acme.example"},
            },
        }
    elif roll < 0.6:
        base |= {
            "type": "track",
            "event": rng.choice(["Product Viewed", "Order Completed", "Signed Up"]),
            "properties": {
                "orderId": f"o-{n}",
                "total": 27.5,
                "currency": "USD",
                "products": [{"sku": "45790-32", "quantity": 1, "price": 27.5}],
            },
        }
    else:
        base |= {
            "type": "page",
            "name": "Pricing",
            "properties": {
                "path": "/pricing",
                "referrer": "https://www.google.com/",
                "title": "Pricing | Acme",
                "url": "https://acme.example/pricing",
            },
        }
    return orjson.dumps(base)


SIMPLE_IDENTIFY = orjson.dumps(
    {
        "type": "identify",
        "userId": "97980cfea0067",
        "traits": {
            "firstName": "John",
            "lastName": "Doe",
            "email": "john.doe@example.com",
            "cfAlternateNumber": "98765432",
            "company": {"name": "Example.com"},
        },
    }
)


def naive_identify(raw: bytes) -> object:
    """The floor to compare with: parse, then build one contact upsert with no rules at all (what
    the research figure of ~164k/s measured). Same machine, same run, same rounds."""
    event = orjson.loads(raw)
    traits = event["traits"]
    return {
        "unique_identifier": {"emails": traits["email"]},
        "contact": {
            "first_name": traits.get("firstName"),
            "last_name": traits.get("lastName"),
            "emails": traits["email"],
            "external_id": event["userId"],
            "custom_field": {"cf_alternate_number": traits.get("cfAlternateNumber")},
        },
    }


def measure(
    cases: Mapping[str, tuple[list[bytes], Callable[[bytes], object]]], rounds: int
) -> dict[str, list[float]]:
    """Rates per case. Rounds are interleaved across cases, so a change in machine speed during
    the run (common on shared VMs) affects every case alike and the ratios stay meaningful."""
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (events, run) in cases.items():
            start = time.perf_counter()
            for raw in events:
                run(raw)
            rates[name].append(len(events) / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the claim says
    rng = random.Random(20261129)
    mix = [make_event(rng, n) for n in range(args.events)]
    options = Options(stage_map={"Order Completed": "Customer"})
    fallback = None

    def run(raw: bytes) -> object:
        return translate_bytes(raw, options, fallback_time=fallback)

    simple = [SIMPLE_IDENTIFY] * args.events
    cases = {
        "mix": (mix, run),
        "simple_identify": (simple, run),
        "naive_identify": (simple, naive_identify),
    }
    measure({name: (events[:1000], fn) for name, (events, fn) in cases.items()}, 2)  # warm-up
    results = measure(cases, args.rounds)
    report = {
        "what": "parse (orjson.loads) + translate, one process pinned to one core",
        "events_per_round": args.events,
        "rounds": args.rounds,
        "mean_bytes_per_mix_event": round(sum(map(len, mix)) / len(mix)),
        "python": platform.python_version(),
        "orjson": metadata.version("orjson"),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "results_per_second": {
            name: {"median": round(statistics.median(r)), "best": round(max(r))}
            for name, r in results.items()
        },
    }
    ratios = [
        n / s for n, s in zip(results["naive_identify"], results["simple_identify"], strict=True)
    ]
    report["naive_over_simple_identify"] = {
        "median": round(statistics.median(ratios), 2),
        "worst": round(max(ratios), 2),
    }
    for name, r in report["results_per_second"].items():
        print(f"{name:<16} median {r['median']:>9,}/s   best {r['best']:>9,}/s")
    print(
        f"naive/simple     median {report['naive_over_simple_identify']['median']}x"
        f"   worst {report['naive_over_simple_identify']['worst']}x"
        "  (how much the mapping rules cost over parse + one dict)"
    )
    if not args.no_write:
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(f"written to {RESULTS}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
