"""Work that stands for several events (``folding``), taken apart again.

Merged identifies go out as one upsert, activities as one digest — what was delivered before (a
replay, a restart), or is in the digest twice, is sent once at most. When Freshsales refuses
what stands for several, or identifies cannot be merged after all, each identify goes on its
own and a digest is split in halves, down to single events, so that only an event at fault is
dead-lettered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consumer.engine import apart
from consumer.engine.folding import digest_translation, merged_translation
from consumer.engine.work import Work

if TYPE_CHECKING:
    from consumer.engine.delivery import Deliverer


class Unfolder:
    def __init__(self, deliverer: Deliverer) -> None:
        self._d = deliverer

    async def folded(self, work: Work, urgent: bool) -> None:
        options = self._d.options()
        if work.members[0].text is None:  # merged identifies
            merged = merged_translation(work, options)
            if merged is None:
                await self.apart(work)  # each was valid alone: one by one, no guessing
            else:
                await self._d.decided(work, merged, urgent)
            return
        # A digest: what was delivered before (a replay, a restart), or is in it twice, is sent
        # once at most.
        seen, fresh, ids = self._d.memory.seen, [], set()
        for member in work.members:
            mid = member.message_id
            if mid is not None and (mid in seen or mid in ids):
                self._d.done.finish_member(work, member, "deduplicated")
                continue
            fresh.append(member)
            if mid is not None:
                ids.add(mid)
        if len(fresh) == 1:
            await self._alone(work, fresh[0].offset)
        elif fresh:
            part = apart.part(work, fresh)
            await self._d.decided(part, digest_translation(part, fresh, options), False)

    async def apart(self, work: Work) -> None:
        """What stood for several, refused: each identify on its own; a digest in halves, down
        to single events, so that only the one at fault is dead-lettered."""
        self._d.done.log(work, "coalescing_undone", coalesced=len(work.members) - 1)
        if work.members[0].text is None:
            for member in work.members:
                if member is work.members[0] and work.original is not None:
                    first = apart.first(work)
                    await self._d.decided(first, work.original, False)
                else:
                    await self._alone(work, member.offset)
            return
        options = self._d.options()
        for half in apart.halves(work.members):
            if len(half) == 1:
                await self._alone(work, half[0].offset)
            else:
                part = apart.part(work, half)
                await self._d.decided(part, digest_translation(part, half, options), False)

    async def _alone(self, work: Work, offset: int) -> None:
        """One event of a folded work, read again and sent on its own."""
        record = await self._d.record_at(work, offset)
        await self._d.handle(apart.alone(work, record, self._d.options()))
