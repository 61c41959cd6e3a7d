"""Waiting events that will never reach their person: their wait is over, or their person asked
to be forgotten.

Their wait over: events that carry only an anonymousId expire (counted, one log line per
visitor: an anonymous visitor who never signs up is not an error); events with a userId are
dead-lettered ``unknown_person`` (an identify without email: ``missing_email``), to be replayed
once the person exists. Their person forgotten: discarded, counted suppressed.

The waiting topic is told (``done_waiting``) before the events' offsets are finished there.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from consumer.backoff import Backoff
from consumer.engine import parcel
from consumer.engine.source import Record
from consumer.engine.work import Member, Work
from consumer.errors import BrokerError
from consumer.logs import get_logger
from translate import DestinationError, Reason, TranslationError

if TYPE_CHECKING:
    from consumer.engine.delivery import Deliverer

log = get_logger(__name__)
DONE_BACKOFF = Backoff(0.5, 30.0)


async def letter(
    d: Deliverer,
    work: Work,
    member: Member,
    source: Record,
    reason: Reason,
    error: DestinationError,
    outcomes: dict[int, str],
) -> None:
    await d.letters.write(source, reason, error, 0)
    d.stats.dead_letters[reason.value] += 1
    outcomes[member.offset] = "dead_lettered"
    d.done.log(
        work,
        "dead_lettered",
        offset=member.offset,
        type=member.type,
        message_id=member.message_id,
        reason=reason.value,
        error=error,
    )


async def kept(d: Deliverer, work: Work, member: Member) -> Record | None:
    """The event ``member`` kept in the waiting topic, as its source held it: key, bytes, headers
    and coordinates; None when the waiting topic no longer has it (its retention passed)."""
    record = await d.record_at(work, member.offset)
    if record.value is None:
        return None
    try:
        return parcel.source_record(record)
    except (KeyError, ValueError):
        return None


async def expire(d: Deliverer, work: Work) -> None:
    outcomes: dict[int, str] = {}
    for member in work.members:
        if not member.user:
            outcomes[member.offset] = "expired"
            continue
        source = await kept(d, work, member)
        if source is None:
            outcomes[member.offset] = "expired"
            continue
        reason = Reason.MISSING_EMAIL if member.type == "identify" else Reason.UNKNOWN_PERSON
        error = TranslationError(
            reason,
            "no email, and nobody known by its userId turned up while it waited"
            if reason is Reason.MISSING_EMAIL
            else "nobody known by its userId turned up while it waited (IDENTITY_WAIT_SECONDS);"
            " replay it once an identify of this userId has been delivered",
        )
        await letter(d, work, member, source, reason, error, outcomes)
    await done_waiting(d, work)
    expired = [m for m in work.members if outcomes.get(m.offset) == "expired"]
    for member in work.members:
        d.done.settle_member(work, member, outcomes.get(member.offset, "expired"))
    if expired:
        oldest = min(m.since_ms for m in expired) / 1000
        log.info(
            "expired",
            visitor=work.wake.key.hex()[:12] if work.wake else None,
            events=len(expired),
            types=sorted({m.type for m in expired}),
            waited_s=round(max(0.0, datetime.now(UTC).timestamp() - oldest)),
            topic=work.record.topic,
            partition=work.record.partition,
        )


async def discard(d: Deliverer, work: Work) -> None:
    """Never delivered, never dead-lettered (the letter would keep the person's data): the
    waiting topic is told, the events are counted suppressed."""
    await done_waiting(d, work)
    for member in work.members:
        d.done.settle_member(work, member, "suppressed")
    log.info(
        "suppressed_waiting",
        events=len(work.members),
        topic=work.record.topic,
        partition=work.record.partition,
    )


async def done_waiting(d: Deliverer, work: Work) -> None:
    assert work.wake is not None
    offsets = [m.offset for m in work.members]
    delays = DONE_BACKOFF.delays()
    while True:
        try:
            await d.waiting.done(work.record.partition, work.wake.key, offsets)
            return
        except BrokerError as exc:
            delay = next(delays)
            d.done.log(work, "waiting_done_retrying", error=exc, delay_s=delay)
            await asyncio.sleep(delay)
