"""Taking folded work apart again: what a refused digest or merge is split into.

Pure: which events go together now. A digest is halved (one bad event among fifty costs about
six more calls, not fifty), a merged run of identifies goes one by one, and a single event is
translated again from its record, as it came.
"""

from __future__ import annotations

from dataclasses import replace

from consumer.engine.intake import work_from
from consumer.engine.source import Record
from consumer.engine.work import Member, Work
from translate import NO_NAMES, Names, Options, Outcome, Reason, Translation, TranslationError


def halves(members: list[Member]) -> list[list[Member]]:
    """Two runs, in order; the first half the larger by at most one."""
    middle = (len(members) + 1) // 2
    return [part for part in (members[:middle], members[middle:]) if part]


def part(work: Work, members: list[Member]) -> Work:
    """``work`` standing for ``members`` only (two or more of its own, in order)."""
    first = members[0]
    record = replace(work.record, offset=first.offset, value=None, headers=())
    stands = Translation(Outcome.DELIVER, first.type, first.message_id, (), _names(work))
    return replace(
        work,
        record=record,
        translation=stands,
        line=first.line,
        members=list(members),
    )


def first(work: Work) -> Work:
    """The first of a merged run of identifies, on its own (its record and translation were
    kept)."""
    return replace(work, members=[], translation=work.original, event=None, original=None)


def alone(work: Work, record: Record, options: Options) -> Work:
    """One event of a folded work as its own work again, from its record read once more."""
    if record.value is None:
        error = TranslationError(
            Reason.INVALID_EVENT, "no longer in the topic: cannot be sent on its own"
        )
        return Work(record, work.tracker, work.key, None, error)
    again = work_from(record, work.tracker, options)
    again.fetched_at = work.fetched_at
    again.line = None  # on its own from here: never folded again
    return again


def _names(work: Work) -> Names:
    t = work.original or work.translation
    return t.names if t is not None else NO_NAMES
