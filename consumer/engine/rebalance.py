"""Partitions coming and going: finish (or give up on) their work, commit it, then release."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from consumer.engine.dispatch import KeyedDispatcher
from consumer.engine.offsets import Offsets
from consumer.engine.source import EventSource, Partition
from consumer.engine.work import Work
from consumer.errors import BrokerError
from consumer.logs import get_logger

log = get_logger(__name__)


class Partitions:
    """The engine's ``Rebalancing``: what a rebalance means for the work in hand."""

    def __init__(
        self,
        source: EventSource,
        offsets: Offsets[Partition],
        dispatcher: KeyedDispatcher[Work],
        *,
        grace_s: float,
        on_assigned: Callable[[], None],
        on_held: Callable[[frozenset[Partition]], None] = lambda held: None,
        on_revoked: Callable[[frozenset[Partition]], None] = lambda gone: None,
    ) -> None:
        """``on_held``: told the partitions held once a rebalance has given or taken some;
        ``on_revoked``: the partitions gone, once their work is finished or given up."""
        self._source = source
        self._offsets = offsets
        self._dispatcher = dispatcher
        self._grace_s = grace_s
        self._on_assigned = on_assigned
        self._on_held = on_held
        self._on_revoked = on_revoked

    async def revoked(self, partitions: frozenset[Partition]) -> None:
        gone = {p for p in partitions if p in self._offsets}
        if not gone:
            self._on_held(self._source.assignment() - partitions)
            return
        trackers = {id(self._offsets[p]) for p in gone}

        def leaving(work: Work) -> bool:
            return id(work.tracker) in trackers

        dropped = self._dispatcher.discard(leaving)
        deadline = time.monotonic() + self._grace_s
        # Polled: a rebalance is rare, and one event per partition would cost every delivery.
        while time.monotonic() < deadline and self._dispatcher.in_progress(leaving):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        positions = {p: at for p, at in self._offsets.to_commit().items() if p in gone}
        if positions:
            try:
                await self._source.commit(positions)
            except BrokerError as exc:
                log.warning("commit_on_revoke_failed", error=str(exc))
        abandoned = self._dispatcher.in_progress(leaving)
        for partition in gone:
            self._offsets.revoke(partition)
        self._on_revoked(frozenset(gone))
        # Only now, once their work is finished or given up: the next owner cannot have them
        # before this returns, so the quota they needed is still ours until here.
        self._on_held(self._source.assignment() - partitions)
        log.info(
            "partitions_revoked",
            partitions=sorted(p.partition for p in gone),
            dropped_queued=len(dropped),
            abandoned_in_flight=abandoned,
        )

    async def assigned(self, partitions: frozenset[Partition]) -> None:
        self._on_held(self._source.assignment() | partitions)
        self._on_assigned()
        log.info("partitions_assigned", partitions=sorted(p.partition for p in partitions))
