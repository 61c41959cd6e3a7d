"""Event filters: which events reach the CRM at all, by type and name.

Every event costs quota, and the user knows which of them matter to their sales team. A pattern
is ``TYPE`` or ``TYPE:NAME``: TYPE is a Segment type or ``*``; NAME, where the type has one (the
track event, the page or screen name, the group's ``traits.name``), may hold ``*`` for any run
of characters; matching ignores case. An event passes when an include pattern matches it and no
exclude pattern does.

An event is matched on what can be read of it: a name that is absent or not a string reads as
the empty name (it matches ``*`` only), so a filter decides about an event that translation would
refuse. An event whose type cannot be read is not matched at all; translation refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, NamedTuple

TYPES: Final = ("identify", "track", "page", "screen", "group")
ANY: Final = "*"
_NAMED: Final = frozenset({"track", "page", "screen", "group"})


class Pattern(NamedTuple):
    """One pattern: the type (or ``*``) and the name's pattern (None: any name)."""

    kind: str
    name: re.Pattern[str] | None
    text: str

    def matches_type(self, kind: str) -> bool:
        return self.kind == ANY or self.kind == kind

    def matches(self, kind: str, name: str) -> bool:
        if not self.matches_type(kind):
            return False
        return self.name is None or self.name.fullmatch(name.casefold()) is not None


EVERYTHING: Final = Pattern(ANY, None, ANY)


def parse_patterns(text: str) -> tuple[Pattern, ...]:
    """Comma-separated patterns; empty items are skipped. Raises ValueError naming every pattern
    that cannot be read (the caller adds which setting held them)."""
    patterns: list[Pattern] = []
    problems: list[str] = []
    for item in text.split(","):
        written = item.strip()
        if not written:
            continue
        kind, colon, name = (part.strip() for part in written.partition(":"))
        kind = kind.casefold()
        if kind != ANY and kind not in TYPES:
            expected = ", ".join(TYPES)
            problems.append(f"{written!r}: unknown type {kind!r} (expected {expected} or *)")
        elif colon and not name:
            problems.append(f"{written!r}: no name after ':' (write {kind} for every name)")
        elif colon and kind == "identify" and name != ANY:
            problems.append(f"{written!r}: identify events have no name to match")
        else:
            patterns.append(Pattern(kind, _glob(name) if colon and name != ANY else None, written))
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(patterns)


def _glob(name: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in name.casefold().split("*")), re.DOTALL)


def event_name(kind: str, event: Mapping[str, object]) -> str:
    """The name a pattern's NAME is matched against ("" when the event has none)."""
    if kind == "track":
        value = event.get("event")
    elif kind == "group":
        traits = event.get("traits")
        value = traits.get("name") if isinstance(traits, Mapping) else None
    else:
        value = event.get("name")
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Include and exclude patterns; the default lets every event through."""

    include: tuple[Pattern, ...] = (EVERYTHING,)
    exclude: tuple[Pattern, ...] = ()
    everything: bool = field(init=False, repr=False, compare=False)
    """Nothing is filtered: the common case, decided once instead of per event."""

    def __post_init__(self) -> None:
        everything = EVERYTHING in self.include and not self.exclude
        object.__setattr__(self, "everything", everything)

    def admits(self, kind: str, event: Mapping[str, object]) -> bool:
        """Whether an event of this (lower-case) type is delivered: included and not excluded."""
        if self.everything:
            return True
        name = event_name(kind, event) if kind in _NAMED else ""
        if not any(p.matches(kind, name) for p in self.include):
            return False
        return not any(p.matches(kind, name) for p in self.exclude)

    def may_admit(self, kind: str) -> bool:
        """Whether some event of this type can pass: start-up reads only it needs are skipped
        otherwise."""
        if not any(p.matches_type(kind) for p in self.include):
            return False
        return not any(p.matches_type(kind) and p.name is None for p in self.exclude)
