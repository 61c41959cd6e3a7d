"""``freshsales-destination check``: its command-line surface and its output, as pure functions.

The checks themselves (``consumer.commands.check.checks``) produce one :class:`Result` per row;
everything here turns those rows into the verdict, the exit status, the human table or the JSON
document. No I/O, so the rendering and the exit rule are tested without a broker or an account.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import orjson

from consumer.commands.arguments import number, whole

DEFAULT_TIMEOUT_S: Final = 10.0
DEFAULT_SAMPLE: Final = 200
MOST_CALLS: Final = 7
"""Freshsales calls of one check, at most: the service's start-up reads (Suite: the owners,
activity types, lifecycle stages and industry types, and three field lists; Classic: no stages,
four field lists); one fewer when the event filters drop every group and identify."""


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    """The service starts and works, but something deserves a look (it never fails the check)."""
    FAIL = "fail"
    """The service would refuse to start or would not deliver: exit status 1."""
    SKIP = "skip"
    """Not checked: what it needs failed (named in the detail) or it does not apply."""


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    status: Status
    detail: str


@dataclass(frozen=True, slots=True)
class Report:
    results: tuple[Result, ...]
    freshsales_calls: int
    elapsed_s: float

    @property
    def verdict(self) -> Status:
        statuses = {r.status for r in self.results}
        for worst in (Status.FAIL, Status.WARN):
            if worst in statuses:
                return worst
        return Status.OK

    @property
    def exit_status(self) -> int:
        return 1 if self.verdict is Status.FAIL else 0


def skipped(names: Iterable[str], why: str) -> list[Result]:
    return [Result(name, Status.SKIP, why) for name in names]


def render_table(report: Report) -> str:
    """One row per check (name, status, detail), then the verdict and the calls spent."""
    rows = [("check", "status", "detail")] + [
        (r.name, r.status.value, r.detail) for r in report.results
    ]
    name_width = max(len(row[0]) for row in rows)
    status_width = max(len(row[1]) for row in rows)
    lines = [
        f"{name:<{name_width}}  {status:<{status_width}}  {detail}".rstrip()
        for name, status, detail in rows
    ]
    lines += ["", summary(report)]
    return "\n".join(lines) + "\n"


def summary(report: Report) -> str:
    counts = Counter(r.status for r in report.results)
    tally = ", ".join(f"{counts[s]} {s.value}" for s in Status)
    calls = report.freshsales_calls
    return (
        f"{report.verdict.value.upper()}: {tally}; {calls} Freshsales API"
        f" call{'' if calls == 1 else 's'} (they count against the account's hourly quota);"
        f" {report.elapsed_s:.1f} s"
    )


def render_json(report: Report) -> bytes:
    document = {
        "verdict": report.verdict.value,
        "exit_status": report.exit_status,
        "checks": [
            {"name": r.name, "status": r.status.value, "detail": r.detail} for r in report.results
        ],
        "freshsales_calls": report.freshsales_calls,
        "elapsed_s": round(report.elapsed_s, 3),
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


_EPILOG = f"""\
Checks, in order: configuration, kafka (connect, metadata), source topic (exists, partitions),
dead-letter topic, ledger topic, freshsales key, activity types, lifecycle stages (Suite),
default owner, industry types, custom fields (the account's, against the field catalog), custom
traits (a sample of recent source events translated with that catalog), and with
--write-catalog the field catalog written. docs/operations.md says what each one means.

Status per check: ok, warn (works, but look), fail, skip (not checked: what it needs failed, or
it does not apply). Exit status: 0 when nothing failed (warnings allowed), 1 when a check
failed, 2 for bad usage. Freshsales calls are counted and printed: at most {MOST_CALLS} per
run."""


def add_check_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check",
        help="validate the configuration and reach Kafka and Freshsales, one row per check",
        description="Read the configuration from the environment as `run` does, then check"
        " what `run` needs: the Kafka topics, the Freshsales key, the names the configuration"
        " refers to, and custom fields. Nothing is written anywhere (but the --write-catalog"
        " file).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--json", action="store_true", help="print one JSON document, not a table")
    check.add_argument(
        "--timeout",
        type=number(0.0, 300.0, above=True),
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help="limit of each check, e.g. reaching the broker (default: %(default)s)",
    )
    check.add_argument(
        "--sample",
        type=whole(0, 100_000),
        default=DEFAULT_SAMPLE,
        metavar="N",
        help="recent source events read (never committed) to find custom traits that would be"
        " ignored; 0 reads none (default: %(default)s)",
    )
    check.add_argument(
        "--write-catalog",
        type=Path,
        metavar="FILE",
        help="also write the account's field catalog to FILE, the form translate --catalog reads"
        " (no extra Freshsales call)",
    )
    check.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from consumer.commands.check.checks import main  # the checks' I/O: only when it runs

    return main(args.json, args.timeout, args.sample, args.write_catalog)


def output(report: Report, *, as_json: bool) -> bytes:
    return render_json(report) if as_json else render_table(report).encode()


def problems_of(message: str) -> Sequence[str]:
    """The individual problems of a ConfigurationError's message (one per indented line)."""
    lines = [line.strip() for line in message.splitlines()]
    listed = [line for line in lines[1:] if line]
    return listed or [message.strip()]
