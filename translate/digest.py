"""Activity digests: a person's track/page/screen events that wait together become one activity.

An event's :class:`Line` is what a digest needs of it — time, title, properties in one line, the
messageId, whether it moves the lifecycle stage — taken from its own translation, so that the
event itself need not be kept while it waits. :func:`digest` turns the lines of one person into
one sales activity:

- title ``<n> events: <names with counts>``, at most 255 characters;
- start and end: the first and the last event's time;
- the track activity type, or the page type when every event is a page or a screen view;
- notes: one line per event, in order, each ending with its messageId, so every event stays
  traceable in the CRM;
- a lifecycle PUT when a stage-map event is among them (the last one's stage: the person's
  stage after the events, in order).

Bounds are the caller's (how many events, how many characters of notes): :func:`fits` says
whether one more line fits.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from translate.activity import activity_request, lifecycle_request
from translate.identities import NO_NAMES, Names
from translate.model import (
    Flavor,
    FromLookup,
    LookupKind,
    Options,
    Outcome,
    Request,
    Step,
    Translation,
    frozen,
)

MAX_TITLE: Final = 255
"""Freshsales' limit for a sales activity's title."""
_PAGES: Final = frozenset({"page", "screen"})
SEPARATOR: Final = " \u00b7 "
"""Between the parts of a line: time, title, properties, messageId."""
TIMES: Final = "\u00d7"
"""The multiplication sign between a name and its count, as in the documented titles."""


@dataclass(frozen=True, slots=True)
class Line:
    kind: str
    """track, page or screen."""
    at: str
    """The event's time (ISO 8601), as its own activity would have had it."""
    title: str
    text: str
    """The line in the digest's notes: time, title, properties, messageId."""
    message_id: str | None
    stage: str | None
    """The lifecycle stage the event moves the person to (a stage-map track), if any."""


def line_of(translation: Translation, max_chars: int, *, cut: bool = False) -> Line | None:
    """The digest line of a translated track/page/screen; None when the event cannot be folded:
    not an activity to deliver, or its line would be longer than ``max_chars`` (such an event
    goes alone, with its whole notes) — unless ``cut``: then its properties are cut to fit (a
    visitor's history has no "alone" to go to)."""
    if translation.outcome is not Outcome.DELIVER or translation.type not in _KINDS:
        return None
    activity = stage = None
    for request in translation.requests:
        if request.step is Step.ACTIVITY:
            activity = request.body.get("sales_activity")
        elif request.step is Step.LIFECYCLE:
            stage = _stage_of(request)
    if not isinstance(activity, Mapping):
        return None
    name, at, notes = activity.get("title"), activity.get("start_date"), activity.get("notes")
    if not (isinstance(name, str) and isinstance(at, str) and isinstance(notes, str)):
        return None
    mid = translation.message_id
    properties = [part for part in notes.split("\n") if part and not part.startswith("messageId: ")]
    tail = [f"messageId: {mid}"] if mid is not None else []
    text = SEPARATOR.join([at, name, *([", ".join(properties)] if properties else []), *tail])
    if len(text) > max_chars:
        if not cut or not properties:
            return None
        room = max_chars - len(SEPARATOR.join([at, name, "", *tail]))
        if room < 2:
            return None
        shown = ", ".join(properties)[: room - 1] + "\u2026"
        text = SEPARATOR.join([at, name, shown, *tail])
    # Titles repeat across thousands of waiting events (Viewed Pricing, …): keep one copy each.
    return Line(sys.intern(translation.type), at, sys.intern(name), text, mid, stage)


_KINDS: Final = frozenset({"track", "page", "screen"})


def fits(lines: int, chars: int, line: Line, *, max_events: int, max_chars: int) -> bool:
    """Whether ``line`` may join a digest of ``lines`` lines and ``chars`` characters of notes."""
    return lines < max_events and chars + 1 + len(line.text) <= max_chars


def digest(
    lines: Sequence[Line],
    options: Options,
    *,
    person: Request | None,
    names: Names = NO_NAMES,
    history: bool = False,
) -> Translation:
    """One sales activity standing for ``lines`` (two or more, in order). ``person`` is the
    request that finds the person when the identity map does not know them (the first of the
    events' own); ``names`` the identities they were sent under.

    ``history``: the events a visitor sent before anybody knew who they were, delivered once
    they signed up: titled ``Before sign-up: <n> events: …`` (one event is enough)."""
    if len(lines) < (1 if history else 2):
        raise ValueError("a digest stands for two events or more")
    pages_only = all(line.kind in _PAGES for line in lines)
    activity_type = options.page_activity_type if pages_only else options.track_activity_type
    record = frozen(
        {
            "title": title(lines, prefix=HISTORY if history else ""),
            "sales_activity_type_id": None,
            "start_date": lines[0].at,
            "end_date": lines[-1].at,
            "owner_id": None,
            "targetable_type": None,
            "targetable_id": None,
            "notes": "\n".join(line.text for line in lines),
        }
    )
    # The same shape as a single event's activity: the same injections, the same answers.
    requests = [] if person is None else [person]
    requests.append(activity_request(record, activity_type))
    stage = next((line.stage for line in reversed(lines) if line.stage is not None), None)
    if stage is not None and options.flavor is Flavor.SUITE:
        requests.append(lifecycle_request(stage))
    kind = "history" if history else "digest"
    return Translation(Outcome.DELIVER, kind, None, tuple(requests), names=names)


HISTORY: Final = "Before sign-up: "
"""The title's start for the events a visitor sent before they were known."""


def title(lines: Sequence[Line], prefix: str = "") -> str:
    """``12 events: Viewed Pricing`` TIMES ``3, Feature Used`` TIMES ``2, …``: the names, most
    frequent first, then in order of first appearance; cut to :data:`MAX_TITLE` characters."""
    counts = Counter(line.title for line in lines)
    ordered = sorted(counts, key=lambda name: -counts[name])  # stable: first seen first on ties
    noun = "event" if len(lines) == 1 else "events"
    text = f"{prefix}{len(lines)} {noun}: " + ", ".join(
        f"{name} {TIMES}{counts[name]}" if counts[name] > 1 else name for name in ordered
    )
    return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"


def _stage_of(request: Request) -> str | None:
    for inject in request.inject:
        for source in inject.sources:
            if isinstance(source, FromLookup) and source.kind is LookupKind.LIFECYCLE_STAGE:
                return source.name
    return None
