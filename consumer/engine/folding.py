"""Folding: a person's events waiting behind each other are held, and sent, as one.

While the quota is short a person's events pile up in their queue. Each one that arrives behind
work that has not started joins it when it can (``Folding.join``), and when a person's turn
comes, what is queued right behind their next piece of work joins it (``Folding.gather``), so
what waits is held compactly and goes out in one call:

- identifies of the same record (same partition, each valid on its own) merge into one upsert
  (``translate.merge_identifies``: later traits win, ``company``/``deal`` key by key);
- track/page/screen events become one digest activity (``translate.digest``), within the
  digest's bounds; an event too large for a digest line goes alone.

Anything else — a group, an invalid event, an identify behind activities — ends the run, so a
person's order is kept. Activities fold only while calls wait for the quota (``pressed``): with
quota to spare each goes out alone, at once, even in a burst. With ``window_s``
(``ACTIVITY_DIGEST=<seconds>``) a person's first activity also waits that long for others to join
it, whatever the quota: a session summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Final

import orjson

from consumer.engine.work import Member, Work
from translate import (
    NO_NAMES,
    Options,
    Outcome,
    Request,
    Step,
    Translation,
    TranslationError,
    merge_identifies,
    translate_event,
)
from translate.digest import Line, digest, fits

MAX_MERGED: Final = 100
"""A run longer than this is merged in several steps: one letter can only carry so much."""


@dataclass(frozen=True, slots=True)
class FoldRules:
    identifies: bool = True
    """COALESCE_IDENTIFIES."""
    activities: bool = True
    """ACTIVITY_DIGEST is not ``off``."""
    window_s: float = 0.0
    """ACTIVITY_DIGEST=<seconds>: how long a person's first activity waits for others."""
    max_events: int = 50
    """DIGEST_MAX_EVENTS."""
    max_chars: int = 10_000
    """DIGEST_MAX_CHARS: the digest's notes at most (where a single activity's are cut, too)."""
    max_line: int = 1_000
    """An event whose digest line would be longer goes alone, with its whole notes."""


def mergeable(work: Work) -> bool:
    t = work.translation
    return (
        work.event is not None
        and t is not None
        and t.type == "identify"
        and t.outcome is Outcome.DELIVER
    )


def person(work: Work) -> tuple[str, str] | None:
    """Which record an identify writes: its person upsert's path and unique identifier. Only
    identifies of the same record merge: a changed email, or fsContact turning a lead into a
    contact on Classic, writes another record, and each must stay as it was sent."""
    t = work.original or work.translation
    assert t is not None
    for request in t.requests:
        if request.step is Step.PERSON:
            unique = orjson.dumps(
                request.body.get("unique_identifier"), default=dict, option=orjson.OPT_SORT_KEYS
            )
            return request.path, unique.decode()
    return None


def finder(translation: Translation | None) -> Request | None:
    """The request of an event's own that finds its person, if it has one."""
    if translation is not None:
        for request in translation.requests:
            if request.step is Step.PERSON:
                return request
    return None


class Folding:
    """The dispatcher's ``Folder``. ``pressed``: whether calls wait for the quota now."""

    def __init__(
        self,
        rules: FoldRules,
        *,
        pressed: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules = rules
        self._pressed = pressed
        self._clock = clock

    def size(self, work: Work) -> int:
        return work.size

    def folded(self, work: Work) -> int:
        return len(work.members)

    def hold_s(self, head: Work) -> float:
        if self.rules.window_s <= 0 or head.line is None:
            return 0.0
        return max(0.0, head.fetched_at + self.rules.window_s - self._clock())

    def gather(self, head: Work, waiting: Iterable[Work]) -> int:
        taken = 0
        for work in waiting:
            if not self.join(head, work):
                break
            taken += 1
        return taken

    def pressed(self) -> bool:
        """Whether what waits would be folded now."""
        return self.rules.window_s > 0 or self._pressed()

    def compact(self, work: Work) -> bool:
        """A lone activity that is going to wait for the quota is held as its line, like the
        first of a digest: while thousands of people wait, each costs a line, not an event. Should
        it go out alone after all, its record is read again."""
        if work.members or work.line is None or not self.rules.activities:
            return False
        if self.rules.window_s <= 0 and not self._pressed():
            return False
        _start_digest(work)
        return True

    def join(self, waiting: Work, work: Work) -> bool:
        if waiting.tracker is not work.tracker or work.members:
            return False
        if self.rules.identifies and _identifies(waiting, work):
            _merge(waiting, work)
            return True
        line = work.line
        if line is None or waiting.line is None or not self.rules.activities:
            return False
        # A session window folds whatever the quota; otherwise only what waits for the quota.
        if self.rules.window_s > 0 or self._pressed():
            rules = self.rules
            lines = len(waiting.members) or 1
            chars = waiting.chars or len(waiting.line.text)
            if fits(lines, chars, line, max_events=rules.max_events, max_chars=rules.max_chars):
                _fold_activity(waiting, work, line)
                return True
        return False


def _identifies(waiting: Work, work: Work) -> bool:
    return (
        mergeable(waiting)
        and mergeable(work)
        and waiting.size < MAX_MERGED
        and person(waiting) == person(work)
    )


def _member(work: Work) -> Member:
    t = work.translation
    assert t is not None
    line = work.line
    if line is None:
        return Member(work.record.offset, t.message_id, t.type)
    return Member.of_line(work.record.offset, line)


def _merge(waiting: Work, work: Work) -> None:
    assert waiting.event is not None
    assert work.event is not None
    if not waiting.members:
        waiting.members = [_member(waiting)]
        waiting.original = waiting.translation
    waiting.event = merge_identifies([waiting.event, work.event])
    waiting.received = work.received
    waiting.members.append(_member(work))


def _start_digest(waiting: Work) -> None:
    assert waiting.line is not None
    assert waiting.translation is not None
    own = waiting.translation
    waiting.members = [_member(waiting)]
    waiting.person = finder(own)
    waiting.chars = len(waiting.line.text)
    # From now on only the lines are kept: the events themselves can be read again.
    waiting.record = replace(waiting.record, value=None, headers=())
    waiting.translation = Translation(own.outcome, own.type, own.message_id, (), own.names)


def _fold_activity(waiting: Work, work: Work, line: Line) -> None:
    if not waiting.members:
        _start_digest(waiting)
    waiting.members.append(_member(work))
    waiting.chars += 1 + len(line.text)
    if waiting.person is None:
        waiting.person = finder(work.translation)


def merged_translation(work: Work, options: Options) -> Translation | None:
    """The translation of a folded identify run's merged event; None when the merge does not
    translate as each did alone (then each goes on its own, rather than guess)."""
    assert work.event is not None
    try:
        translation = translate_event(work.event, options, fallback_time=work.received)
    except TranslationError:
        return None
    return translation if translation.outcome is Outcome.DELIVER else None


def digest_translation(work: Work, members: list[Member], options: Options) -> Translation:
    """The digest activity of ``members`` (two or more) of a folded activity run."""
    lines = [line for m in members if (line := m.line) is not None]
    names = work.translation.names if work.translation else NO_NAMES
    return digest(lines, options, person=work.person, names=names)
