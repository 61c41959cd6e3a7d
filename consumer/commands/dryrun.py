"""``freshsales-destination translate``: Segment events as JSON lines → their Freshsales requests.

The dry run shows exactly what the service would send, before any account or broker is involved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import orjson

from translate import (
    Options,
    TranslationError,
    decode,
    error_json,
    infer_type,
    translate_event,
    translation_json,
)


@dataclass(slots=True)
class Tally:
    """Counts for the closing summary line."""

    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    calls: int = 0

    @property
    def errors(self) -> int:
        return self.outcomes["error"]

    def summary(self) -> str:
        total = sum(self.outcomes.values())
        parts = ", ".join(f"{n} {name}" for name, n in sorted(self.outcomes.items()))
        noun = "event" if total == 1 else "events"
        text = f"{total} {noun}: {parts or 'none'}; at most {self.calls} Freshsales calls"
        if self.outcomes["forget"]:
            # Whom a deletion erases is known only to the identity map and Freshsales' search.
            text += " besides the deletion requests' (a search by email, one per person erased)"
        if self.reasons:
            text += "; errors by reason: " + ", ".join(
                f"{reason}={n}" for reason, n in sorted(self.reasons.items())
            )
        return text


def translate_line(
    raw: bytes, options: Options, fallback_time: datetime, infer: bool
) -> dict[str, Any]:
    """One input line → one output object (a translation, or an error with its reason)."""
    try:
        event = decode(raw)
        inferred = infer_type(event) if infer else None
        if inferred is not None:
            event = {**event, "type": inferred}
        result = translation_json(translate_event(event, options, fallback_time=fallback_time))
    except TranslationError as error:
        return error_json(error)
    if inferred is not None:
        result["type_inferred"] = True
    return result


def numbered_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield number, line


def run(
    lines: Iterable[tuple[int, bytes]],
    out: IO[bytes],
    options: Options,
    fallback_time: datetime,
    infer: bool = True,
) -> Tally:
    tally = Tally()
    for number, raw in lines:
        result = {"line": number, **translate_line(raw, options, fallback_time, infer)}
        tally.outcomes[result["outcome"]] += 1
        if result["outcome"] == "error":
            tally.reasons[result["reason"]] += 1
        tally.calls += len(result.get("requests", ()))
        out.write(orjson.dumps(result) + b"\n")
    out.flush()
    return tally
