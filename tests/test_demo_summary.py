"""What the demo prints while it runs and after: nothing that reads like a bug to a newcomer."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from dataclasses import dataclass, field

from consumer.engine.latency import Latency
from consumer.engine.stats import Stats
from sandbox.demo import (
    JOINING,
    _watch,
    dead_letter_lines,
    intended_failures,
    sample_lines,
    wait_line,
)


def test_the_samples_invalid_on_purpose_are_known_by_their_reasons() -> None:
    assert intended_failures(sample_lines()) == Counter(
        {"invalid_email": 1, "missing_group_name": 1}
    )


def test_a_dead_letter_of_a_sample_invalid_on_purpose_says_it_was_intended() -> None:
    intended = {"missing_email": 1, "missing_group_name": 2}
    letters = {"missing_email": 2, "missing_group_name": 2, "rejected": 3, "invalid_event": 1}
    assert dead_letter_lines(letters, intended) == [
        "    dead letter: invalid_event 1",
        "    dead letter: missing_email 2   (1 intended: samples invalid on purpose)",
        "    dead letter: missing_group_name 2   (intended: 2 samples invalid on purpose)",
        "    dead letter: rejected 3",
    ]
    assert dead_letter_lines({"missing_email": 1}, intended) == [
        "    dead letter: missing_email 1   (intended: a sample invalid on purpose)"
    ]


def test_waiting_is_shown_per_event_not_summed_over_everyone_waiting() -> None:
    latency = Latency()
    for seconds in (2.0, 4.0, 24.0):
        latency.observe(seconds)
    assert wait_line(latency) == (
        "  time per event  longest 24.0s, average 10.0s from being read to finished"
        " (mostly each event's turn in the quota's pace)"
    )


@dataclass
class Engine:
    assigned: bool = False


@dataclass
class Service:
    stats: Stats = field(default_factory=Stats)
    engine: Engine | None = None


async def test_while_the_group_joins_one_line_says_so_and_progress_follows() -> None:
    service, out = Service(), io.StringIO()

    async def run() -> int:
        await asyncio.sleep(0.35)  # reading the account
        service.engine = Engine()
        await asyncio.sleep(0.35)  # joining the group
        service.engine.assigned = True
        service.stats.outcomes["delivered"] = 2
        await asyncio.sleep(0.3)
        return 0

    task = asyncio.create_task(run())
    assert await _watch(service, task, 2, out) is True  # type: ignore[arg-type]
    await task
    lines = out.getvalue().splitlines()
    assert lines[0] + "\n" == JOINING
    assert lines[1].startswith("  progress:   2/2 finished (2 delivered")
    assert lines[2].startswith("  done in ")
