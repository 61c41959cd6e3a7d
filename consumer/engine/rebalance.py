"""Partitions coming and going: finish (or give up on) their work, commit it, then release."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from consumer.engine.dispatch import KeyedDispatcher
from consumer.engine.offsets import Offsets
from consumer.logs import get_logger

if TYPE_CHECKING:
    from consumer.engine.work import Work
    from consumer.freshsales.standing import Health

log = get_logger("consumer.engine.rebalance")


class Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        offsets: Offsets[TopicPartition],
        dispatcher: KeyedDispatcher[Work],
        health: Health,
        grace_s: float,
    ) -> None:
        self._consumer = consumer
        self._offsets = offsets
        self._dispatcher = dispatcher
        self._health = health
        self._grace_s = grace_s

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        gone = {tp for tp in revoked if tp in self._offsets}
        if not gone:
            return
        trackers = {id(self._offsets[tp]) for tp in gone}

        def leaving(work: Work) -> bool:
            return id(work.tracker) in trackers

        dropped = self._dispatcher.discard(leaving)
        deadline = time.monotonic() + self._grace_s
        # Polled: a rebalance is rare, and one event per partition would cost every delivery.
        while time.monotonic() < deadline and self._dispatcher.in_progress(leaving):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        positions = {tp: p for tp, p in self._offsets.to_commit().items() if tp in gone}
        if positions:
            try:
                await self._consumer.commit(positions)
            except KafkaError as exc:
                log.warning("commit_on_revoke_failed", error=repr(exc))
        abandoned = self._dispatcher.in_progress(leaving)
        for tp in gone:
            self._offsets.revoke(tp)
        log.info(
            "partitions_revoked",
            partitions=sorted(tp.partition for tp in gone),
            dropped_queued=len(dropped),
            abandoned_in_flight=abandoned,
        )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._health.assigned = bool(self._consumer.assignment())
        log.info("partitions_assigned", partitions=sorted(tp.partition for tp in assigned))
