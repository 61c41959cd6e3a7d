"""Folding: identifies of one user waiting behind each other become one upsert.

While quota is short, a user's identifies pile up in their queue (one per page load, often). When
the first of them is about to be delivered, the identifies queued right behind it (same user,
same partition, each valid on its own) are merged into it (``translate.merge_identifies``); the
merged event is delivered once and every merged offset finishes with it. Anything else in the
queue — a track, an invalid event — ends the run, so per-user order is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Final

import orjson

from consumer.engine.work import Work
from translate import Options, Outcome, Step, TranslationError, merge_identifies, translate_event

MAX_MERGED: Final = 100
"""A run longer than this is merged in several steps: one letter can only carry so much."""


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
    assert work.translation is not None
    for request in work.translation.requests:
        if request.step is Step.PERSON:
            unique = orjson.dumps(
                request.body.get("unique_identifier"), default=dict, option=orjson.OPT_SORT_KEYS
            )
            return request.path, unique.decode()
    return None


class IdentifyFolding:
    """The dispatcher's ``fold``: an identify stands for the same person's identifies queued
    right behind it."""

    def __init__(self, options: Callable[[], Options]) -> None:
        self._options = options

    def __call__(self, work: Work, waiting: Iterable[Work]) -> tuple[Work, int]:
        if not mergeable(work) or work.absorbed:
            return work, 0
        target = person(work)
        followers: list[Work] = []
        for each in waiting:
            same = mergeable(each) and each.tracker is work.tracker and person(each) == target
            if len(followers) >= MAX_MERGED or not same:
                break
            followers.append(each)
        if not followers:
            return work, 0
        group = [work, *followers]
        merged = merge_identifies([w.event for w in group if w.event is not None])
        try:
            translation = translate_event(merged, self._options(), fallback_time=group[-1].received)
        except TranslationError:
            return work, 0  # each was valid alone; deliver them one by one rather than guess
        if translation.outcome is not Outcome.DELIVER:
            return work, 0
        folded = replace(
            work, translation=translation, absorbed=followers, original=work.translation
        )
        return folded, len(followers)
