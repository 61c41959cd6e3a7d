"""Events that waited for their person, going: to the person once an identify or alias names
them, or nowhere once their wait is over.

To the person (MAPPING.md, "Events of a person not known yet wait"): the waiting records are read
again (they hold the events byte for byte) and translated as they would have been; identifies
that had no email merge into one update by id, groups go one by one, and the track, page and
screen events become the visitor's history: ``Before sign-up: <n> events: …`` digest activities
on the person (several only past the digest limits), one notes line per event with its time and
messageId, every messageId into the ledger. A history Freshsales refuses is split in halves down
to the event at fault, which alone is dead-lettered — with the bytes, key and headers it had in
its source topic.

Their wait over, or their person forgotten: ``expiring``.

Either way the waiting topic is told (``WaitingLog.done``) before the events' offsets are
finished there, so that a restart does not bring them back; a crash before that brings them back
once more, and the ledger keeps their activities from being sent twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from consumer.engine.expiring import discard, done_waiting, expire, kept, letter
from consumer.engine.outlets import ACTIVITY_TYPES
from consumer.engine.results import Delivered, Refused
from consumer.engine.source import Record
from consumer.engine.work import FORGOTTEN, OVER, Member, Work
from consumer.identity.book import Person
from consumer.identity.decide import Deliver
from consumer.logs import get_logger
from translate import (
    DestinationError,
    Options,
    Outcome,
    Reason,
    Translation,
    TranslationError,
    decode,
    merge_identifies,
    translate_event,
    translate_identify,
)
from translate.digest import Line, digest, fits, line_of

if TYPE_CHECKING:
    from consumer.engine.delivery import Deliverer

log = get_logger(__name__)
MAX_LINE = 1_000
"""A history line longer than this is cut (a history has no "alone" for it to go to)."""

Event = tuple[Member, Record, Translation]


class Waker:
    def __init__(self, deliverer: Deliverer, put_back: Callable[[Work], None]) -> None:
        self._d = deliverer
        self._put_back = put_back

    async def wake(self, work: Work) -> None:
        assert work.wake is not None
        if work.wake.why == OVER:
            await expire(self._d, work)
            return
        if work.wake.why == FORGOTTEN:
            await discard(self._d, work)
            return
        person = self._d.identities.book.owner_of(work.wake.key)
        if person is None:  # named, then gone again (deleted in Freshsales): they wait on
            self._put_back(work)
            return
        await self._stitch(work, person)

    # --- to the person --------------------------------------------------------------------

    async def _stitch(self, work: Work, person: Person) -> None:
        d = self._d
        outcomes: dict[int, str] = {}
        events = await self._read(work, outcomes)
        options = d.options()
        identifies = [e for e in events if e[2].type == "identify"]
        groups = [e for e in events if e[2].type == "group"]
        activities = [e for e in events if e[2].type in ACTIVITY_TYPES]
        if identifies:
            merged = merge_identifies([decode(src.value or b"{}") for _, src, _ in identifies])
            try:
                update = translate_identify(merged, options, by_id=True)
            except TranslationError as error:  # each was valid alone: not expected
                await self._refused(work, identifies, error.reason, error, outcomes)
            else:
                if not await self._send(work, update, person, identifies, outcomes):
                    return
        for group in groups:
            if not await self._send(work, group[2], person, [group], outcomes):
                return
        lines = [(e, line_of(e[2], MAX_LINE, cut=True)) for e in activities]
        for e, line in lines:
            # An activity with no line (not an activity to deliver after all): as it came.
            if line is None and not await self._send(work, e[2], person, [e], outcomes):
                return
        chunk: list[tuple[Event, Line]] = []
        chars = 0
        most, room = d.digest_limits
        for e, line in lines:
            if line is None:
                continue
            if chunk and not fits(len(chunk), chars, line, max_events=most, max_chars=room):
                if not await self._history(work, chunk, person, outcomes):
                    return
                chunk, chars = [], 0
            chunk.append((e, line))
            chars += len(line.text) + (1 if len(chunk) > 1 else 0)
        if chunk and not await self._history(work, chunk, person, outcomes):
            return
        await done_waiting(d, work)
        stitched = sum(1 for o in outcomes.values() if o == "stitched")
        for member in work.members:
            outcome = outcomes.get(member.offset, "stitched")
            if outcome in ("stitched", "deduplicated"):
                d.done.finish_member(work, member, outcome, person=person.id)
            else:
                d.done.settle_member(work, member, outcome)  # logged when it was refused
        log.info(
            "history_delivered",
            person=person.id,
            waited_for=work.wake.key.hex()[:12] if work.wake else None,
            stitched=stitched,
            events=len(work.members),
        )

    async def _read(self, work: Work, outcomes: dict[int, str]) -> list[Event]:
        """The waiting events as their source held them, translated; the ones that cannot go
        (lost, no longer admitted by the filters, already delivered) settled aside."""
        d = self._d
        options = d.options()
        seen = d.memory.seen
        events: list[Event] = []
        where: set[tuple[str, int, int]] = set()
        ids: set[str] = set()
        for member in work.members:
            source = await kept(d, work, member)
            if source is None:
                # The waiting topic no longer has it (its retention passed while nobody ran).
                outcomes[member.offset] = "expired"
                log.error("waiting_event_lost", offset=member.offset, topic=work.record.topic)
                continue
            coordinates = (source.topic, source.partition, source.offset)
            try:
                translation = _translate(source, options)
            except TranslationError as error:
                await letter(d, work, member, source, error.reason, error, outcomes)
                continue
            member.type, member.message_id = translation.type, translation.message_id
            mid = translation.message_id if translation.type in ACTIVITY_TYPES else None
            if coordinates in where or (mid is not None and (mid in seen or mid in ids)):
                outcomes[member.offset] = "deduplicated"
                continue
            where.add(coordinates)
            if mid is not None:
                ids.add(mid)
            if translation.outcome is not Outcome.DELIVER:  # the filters changed meanwhile
                outcomes[member.offset] = "skipped"
                continue
            events.append((member, source, translation))
        return events

    async def _history(
        self,
        work: Work,
        chunk: list[tuple[Event, Line]],
        person: Person,
        outcomes: dict[int, str],
    ) -> bool:
        """One ``Before sign-up`` activity for ``chunk``; refused, halves of it, down to the
        event at fault. False when the work was abandoned (its partition went elsewhere)."""
        d = self._d
        translation = digest([line for _, line in chunk], d.options(), person=None, history=True)
        events = [e for e, _ in chunk]
        result = await self._attempt(work, translation, person)
        if result is None:
            return False
        if isinstance(result, bool):
            await d.remember(work, [m for _, _, t in events if (m := t.message_id) is not None])
            for member, _, _ in events:
                outcomes[member.offset] = "stitched"
            d.stats.histories += 1
            return True
        if len(chunk) == 1:
            await self._refused(work, events, result.reason, result.error, outcomes)
            return True
        middle = (len(chunk) + 1) // 2
        return await self._history(work, chunk[:middle], person, outcomes) and await self._history(
            work, chunk[middle:], person, outcomes
        )

    async def _send(
        self,
        work: Work,
        translation: Translation,
        person: Person,
        events: Sequence[Event],
        outcomes: dict[int, str],
    ) -> bool:
        """One identify or group (or an activity too long for a line) on the person."""
        result = await self._attempt(work, translation, person)
        if result is None:
            return False
        if isinstance(result, bool):
            for member, _, _ in events:
                outcomes[member.offset] = "stitched"
        else:
            await self._refused(work, events, result.reason, result.error, outcomes)
        return True

    async def _attempt(
        self, work: Work, translation: Translation, person: Person
    ) -> Literal[True] | Refused | None:
        """True: delivered; a refusal; None: abandoned."""
        d = self._d
        holding = await d.identities.hold(translation, Deliver(person))
        try:
            if holding.person is None:
                gone = "the person is gone from Freshsales"
                return Refused(Reason.UNKNOWN_PERSON, TranslationError(Reason.UNKNOWN_PERSON, gone))
            result = await d.attempt(work, translation, holding)
            if isinstance(result, Delivered):
                await holding.settle(translation)
                return True
            return result if isinstance(result, Refused) else None
        finally:
            holding.release()

    async def _refused(
        self,
        work: Work,
        events: Sequence[Event],
        reason: Reason,
        error: DestinationError,
        outcomes: dict[int, str],
    ) -> None:
        for member, source, _ in events:
            await letter(self._d, work, member, source, reason, error, outcomes)


def _translate(source: Record, options: Options) -> Translation:
    stamp = source.timestamp_ms
    fallback = datetime.fromtimestamp(stamp / 1000, UTC) if stamp and stamp > 0 else None
    return translate_event(decode(source.value or b""), options, fallback_time=fallback)
