"""Events of people not known yet, kept waiting; and aliases, which may name them.

An event whose identities name nobody the identity map knows, and which carries no email to find
them by, is kept in the waiting topic — its record byte for byte, under the identities it waits
for — and its offset is finished once Kafka has it: a crash of any replica at any moment loses
nothing. The waiting room takes it from there (``consumer.engine.waitroom``).

An alias says ``previousId`` is another id of ``userId``'s person: the identity map links them
(first identification wins), and whatever waited under either goes to that person. No call.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Protocol

from consumer.backoff import Backoff
from consumer.engine.source import Record
from consumer.engine.work import Work
from consumer.errors import BrokerError, BrokerRefused
from consumer.identity import locks
from consumer.identity.decide import Wait
from consumer.logs import get_logger
from translate import Reason, Translation, TranslationError, id_key

if TYPE_CHECKING:
    from consumer.engine.delivery import Deliverer

log = get_logger(__name__)
KEEP_BACKOFF = Backoff(0.5, 30.0)
"""Keeping an event waiting while Kafka cannot take it: its offset stays open meanwhile."""


class Keeper:
    def __init__(self, deliverer: Deliverer) -> None:
        self._d = deliverer

    async def keep(self, work: Work, translation: Translation, decision: Wait) -> None:
        """Keep ``work``'s events waiting (folded ones one by one); settle each as ``waiting``."""
        d = self._d
        fields = {"waits_for": decision.keys[0].hex()[:12]}
        user = translation.names.user_id is not None
        if not work.members:
            record = await d.record_at(work, work.record.offset)
            try:
                await self._kept(work, record, decision, user, translation)
            except TranslationError as error:
                await d.dead_letter(work, error.reason, error, attempts=0)
                return
            d.done.finish(work, "waiting", **fields)
            return
        for member in work.members:
            record = await d.record_at(work, member.offset)
            try:
                await self._kept(work, record, decision, user, member)
            except TranslationError as error:
                await d.letters.write(record, error.reason, error, 0)
                d.stats.dead_letters[error.reason.value] += 1
                d.done.finish_member(work, member, "dead_lettered", reason=error.reason.value)
                continue
            d.done.finish_member(work, member, "waiting", **fields)

    async def _kept(
        self, work: Work, record: Record, decision: Wait, user: bool, event: _Kind
    ) -> None:
        delays = KEEP_BACKOFF.delays()
        while True:
            try:
                await self._d.waiting.keep(
                    record,
                    decision.keys,
                    since_ms=round(time.time() * 1000),
                    kind=event.type,
                    has_user=user,
                    message_id=event.message_id,
                )
                return
            except BrokerRefused as exc:
                # Kafka will never take it (too large for the waiting topic): it cannot wait.
                raise TranslationError(
                    Reason.UNKNOWN_PERSON, f"nobody known yet, and it cannot wait: {exc}"
                ) from exc
            except BrokerError as exc:
                delay = next(delays)
                self._d.done.log(work, "keep_retrying", error=exc, delay_s=delay)
                await asyncio.sleep(delay)

    async def link(self, work: Work, translation: Translation) -> None:
        """alias: ``previousId`` is another id of ``userId``'s person."""
        d = self._d
        names = translation.names
        assert names.user_id is not None
        assert names.previous_id is not None
        first, second = id_key(names.previous_id), id_key(names.user_id)
        identities = d.identities
        held = await identities.locks.acquire([locks.identity(first), locks.identity(second)])
        try:
            aliased = identities.book.alias(first, second)
            if aliased.entry is not None:
                await identities.write([aliased.entry])
        finally:
            identities.locks.release(held)
        if aliased.conflict:
            # Freshsales cannot merge two records: nothing is moved, the conflict is told.
            log.warning(
                "link_conflict",
                previous=first.hex()[:12],
                user=second.hex()[:12],
                message_id=translation.message_id,
            )
            d.done.finish(work, "linked", conflict=True)
        else:
            d.done.finish(work, "linked")


class _Kind(Protocol):
    """What ``_kept`` needs of an event: its translation, or the member folded for it."""

    @property
    def type(self) -> str: ...

    @property
    def message_id(self) -> str | None: ...
