"""``freshsales-destination forget``: a deletion request by an operator — the same effect as
Segment's ``delete`` message on the topic (``consumer.engine.forgetting``).

Needs only the service's own configuration: it reads the identity map from Kafka (who the
identities name), forgets the people in Freshsales, and writes the suppression to the identity
topic, which every running replica follows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import orjson

from consumer.errors import BrokerError, ConfigurationError
from consumer.logs import configure
from consumer.settings import Settings
from translate import Names, usable
from translate.event import is_email

PROG = "freshsales-destination forget"
_NOBODY_SHOWN = frozenset({"lifted", "not_suppressed", "would_lift"})
"""Outcomes of --undo: no people to show."""
PROGRESS_S = 2.0

_EPILOG = """\
Each identity is one deletion request, the same as Segment's {"type": "delete", ...} message on
the topic: every Freshsales person it names is forgotten — the people the identity map knows by
it and, for an email, whoever Freshsales finds by it (one filtered_search call) — with DELETE
.../contacts/{id}/forget (Classic leads: .../leads/{id}/forget), the irreversible purge with the
person's activities (not the plain DELETE, a 90-day recycle bin). A person already gone (404)
counts as done; one the same request erased before is not called again (already_forgotten).
Every identity of theirs (userId, emails, linked anonymousIds) is suppressed, as hashes, in the
identity topic, before the erasing calls: the running service acknowledges their later
events as suppressed, never delivers them, never recreates the person; what waited for them is
discarded. --undo lifts the suppression that covers an identity (Segment's UNSUPPRESS) — the
whole request that suppressed it, whichever of the person's identities it named: the person's
next identify creates them anew.

--from FILE: one identity per line, as email=..., userId=... or anonymousId=... (a bare line
with an @ is an email, any other a userId); blank lines and lines starting with # are skipped.

Configured from the same environment as `run` (KAFKA_*, FRESHSALES_*; the calls are paced to
FRESHSALES_RATE_LIMIT_* and count against the account's quota). No personal data is printed: a
request is shown by the first hex digits of its identity's hash.

Output: one line per request (JSON objects with --json: {"identity", "outcome", "people":
[{"id", "kind", "outcome"}]}), then a summary; a progress line every 2 s on long lists goes to
standard error.

Exit status: 0 when every request is done (forgotten, nobody found; with --undo lifted or not
suppressed);
1 when one failed (Freshsales refused to forget, 403 forget_refused; or kept failing), Kafka
could not be reached, or the command was interrupted; 2 for bad usage or configuration.
More: docs/operations.md, "A user asked to be deleted"."""


def add_forget_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fg = commands.add_parser(
        "forget",
        help="erase people from Freshsales and suppress their identities (right to be forgotten)",
        description="A deletion request by an operator: the same as Segment's delete message.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fg.add_argument("--user-id", action="append", default=[], metavar="ID", help="(repeatable)")
    fg.add_argument("--email", action="append", default=[], metavar="E", help="(repeatable)")
    fg.add_argument("--anonymous-id", action="append", default=[], metavar="A", help="(repeatable)")
    fg.add_argument(
        "--from", dest="source", type=Path, metavar="FILE", help="identities, a line each"
    )
    fg.add_argument(
        "--dry-run",
        action="store_true",
        help="find the people only: nothing is forgotten or written (the search is a call)",
    )
    fg.add_argument(
        "--undo",
        action="store_true",
        help="lift the suppression that covers each identity instead (with --dry-run: only say"
        " whether one does)",
    )
    fg.add_argument("--json", action="store_true", help="JSON lines instead of text")
    fg.set_defaults(subparser=fg, run=run_forget)


def run_forget(args: argparse.Namespace) -> int:
    try:
        requests = list(_requests(args))
    except ValueError as exc:
        args.subparser.error(str(exc))  # exits 2, with the usage line
    if not requests:
        args.subparser.error(
            "name at least one identity (--user-id, --email, --anonymous-id or --from)"
        )
    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    # Standard output is the report (JSON lines with --json): the library's own warnings go to
    # standard error, with secrets scrubbed and emails hashed like the service's.
    configure("warning", "console", sys.stderr, settings.secrets, hash_emails=True, libraries=True)
    try:
        return asyncio.run(_forget(settings, requests, args))
    except ConfigurationError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2


def _requests(args: argparse.Namespace) -> Iterator[Names]:
    given = [("email", e) for e in args.email]
    given += [("userId", u) for u in args.user_id] + [("anonymousId", a) for a in args.anonymous_id]
    if args.source is not None:
        try:
            text = args.source.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"--from: cannot read {args.source}: {exc.strerror}") from None
        given += list(_lines(text.splitlines()))
    for kind, value in given:
        yield _names(kind, value)


def _lines(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        kind, sep, value = text.partition("=")
        if sep and kind.strip() in ("email", "userId", "anonymousId"):
            yield kind.strip(), value
        elif sep:
            raise ValueError(
                f"--from line {number}: {kind.strip()!r} is not email, userId or anonymousId"
            )
        else:
            yield ("email" if "@" in text else "userId"), text


def _names(kind: str, value: str) -> Names:
    if kind == "email":
        email = value.strip()
        if not is_email(email):
            raise ValueError(f"not an email address: {value!r}")
        return Names(email=email)
    ident = usable(value)
    if ident is None:
        raise ValueError(
            f"{kind} {value!r} names nobody (blank, or a placeholder such as 'anonymous')"
        )
    return Names(user_id=ident) if kind == "userId" else Names(anonymous_id=ident)


async def _forget(settings: Settings, requests: list[Names], args: argparse.Namespace) -> int:
    """The requests, one after the other; Ctrl+C or SIGTERM stops at once (a request cut short
    is done again by running the command again: the same request erases whom it had not erased
    yet)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tally = Tally(len(requests))
    work = asyncio.create_task(_carry_out(settings, requests, args, tally))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([work, stopped], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not work.done():
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        print(f"{PROG}: interrupted after {tally.finished} of {len(requests)}", file=sys.stderr)
        return 1
    try:
        work.result()
    except BrokerError as exc:
        print(f"{PROG}: Kafka: {exc}", file=sys.stderr)
        print(f"{PROG}: {tally.finished} of {len(requests)} requests carried out", file=sys.stderr)
        return 1
    return 1 if tally.failed else 0


@dataclass
class Tally:
    requests: int
    done: int = 0
    failed: int = 0

    @property
    def finished(self) -> int:
        return self.done + self.failed


async def _carry_out(
    settings: Settings, requests: list[Names], args: argparse.Namespace, tally: Tally
) -> None:
    from consumer.commands.forgetting import Session

    out: TextIO = sys.stdout
    shown = time.monotonic()
    async with Session(settings) as session:
        for number, names in enumerate(requests, start=1):
            if args.undo:
                line = await session.undo(names, dry_run=args.dry_run)
                ok = True
            else:
                report = await session.forget(names, dry_run=args.dry_run)
                line, ok = report.fields(), report.reason is None
            tally.failed += not ok
            tally.done += ok
            print(orjson.dumps(line).decode() if args.json else _text(line), file=out, flush=True)
            if time.monotonic() - shown >= PROGRESS_S and number < len(requests):
                shown = time.monotonic()
                print(f"{PROG}: {number} of {len(requests)} requests", file=sys.stderr, flush=True)
    summary = {"requests": len(requests), "done": tally.done, "failed": tally.failed}
    if args.json:
        print(orjson.dumps({"summary": summary}).decode(), file=out)
    else:
        verb = "looked up" if args.dry_run else ("lifted" if args.undo else "done")
        print(f"{len(requests)} request(s): {tally.done} {verb}, {tally.failed} failed", file=out)


def _text(line: dict[str, object]) -> str:
    people = line.get("people") or []
    assert isinstance(people, list)
    shown = ", ".join(f"{p['kind']} {p['id']} {p['outcome']}" for p in people)
    text = f"{line['identity']}  {line['outcome']}"
    if shown or line["outcome"] not in _NOBODY_SHOWN:
        text += f"  ({shown or 'nobody'})"
    if "error" in line:
        text += f"  {line.get('reason')}: {line['error']}"
    return text
