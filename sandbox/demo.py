"""``freshsales-destination demo``, first form: what the bundled sample events become.

Delivery (embedded broker, Freshsales simulator, the service itself) arrives in a later release;
until then the demo runs the real translation on the samples and says so plainly.
"""

from __future__ import annotations

from collections import Counter
from importlib import resources
from typing import IO

from translate import Options, TranslationError, translate_bytes

SAMPLES = "segment_events.jsonl"


def sample_lines() -> list[bytes]:
    text = resources.files("sandbox").joinpath("samples", SAMPLES).read_bytes()
    return [line for line in text.splitlines() if line.strip()]


def run_demo(out: IO[str]) -> int:
    options = Options(stage_map={"Order Completed": "Customer"})
    lines = sample_lines()
    out.write(
        "Freshsales destination demo: translating the bundled sample events.\n"
        "Delivery to Freshsales (Kafka consumer, simulator) arrives in a later release;\n"
        "this shows the calls each event would make. Config: Suite flavour,"
        " 'Order Completed' → lifecycle stage 'Customer'.\n\n"
    )
    out.write(f"{'#':>2}  {'type':<9} {'outcome':<12} calls\n")
    outcomes: Counter[str] = Counter()
    calls = 0
    for number, raw in enumerate(lines, start=1):
        try:
            result = translate_bytes(raw, options)
        except TranslationError as error:
            outcomes["error"] += 1
            out.write(f"{number:>2}  {'-':<9} {'error':<12} dead letter: {error.reason}\n")
            continue
        outcomes[result.outcome.value] += 1
        calls += len(result.requests)
        chain = " → ".join(f"{r.method} {r.path}" for r in result.requests) or "none"
        extra = f"  (ignored: {', '.join(result.ignored)})" if result.ignored else ""
        out.write(f"{number:>2}  {result.type:<9} {result.outcome.value:<12} {chain}{extra}\n")
    summary = ", ".join(f"{n} {name}" for name, n in sorted(outcomes.items()))
    out.write(f"\n{len(lines)} events: {summary}; {calls} Freshsales calls at most.\n")
    out.write("Try: freshsales-destination translate < your-events.jsonl\n")
    return 0
