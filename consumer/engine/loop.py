"""The fetch loop: fetch, translate, dispatch per key, commit only what finished.

The loop fetches batches from the event source, turns each record into work (``intake``) and hands
it to the per-key dispatcher; deliveries finish offsets in any order and the offsets tracker says
what is safe to commit. Whether to fetch at all is ``flow.should_pause``. On stop: stop fetching,
finish in-flight work within the grace period, commit, leave the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from consumer.engine.breaker import Breaker
from consumer.engine.dispatch import SPARE_WORKERS, WORKERS, KeyedDispatcher
from consumer.engine.flow import Held, Limits, fetch_room, should_compact, should_pause
from consumer.engine.folding import Folding
from consumer.engine.intake import work_from
from consumer.engine.offsets import Offsets
from consumer.engine.rebalance import Partitions
from consumer.engine.source import EventSource, Partition, Record
from consumer.engine.waitroom import WaitingRoom
from consumer.engine.work import Work
from consumer.errors import BrokerError
from consumer.logs import get_logger
from translate import Options

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    max_buffered: int = 10_000
    """MAX_BUFFERED: pieces of work held whole before fetching pauses."""
    max_folded: int = 400_000
    """MAX_FOLDED: events held folded (a line each) before fetching pauses."""
    workers: int = WORKERS
    """Keys handled at once (each waiting for the quota, calling, or waiting to retry)."""
    shutdown_grace_s: float = 30.0
    revoke_grace_s: float = 10.0
    """How long in-flight work of a revoked partition may take before it is abandoned."""
    fetch_max_records: int = 500
    fetch_timeout_s: float = 0.1
    commit_spacing_s: float = 0.01
    """Commits follow progress closely (what is committed is never sent again after a crash) but
    are spaced a little, so that a burst of finishes becomes one commit."""


class Handler(Protocol):
    async def handle(self, work: Work) -> None:
        """Settle ``work``: delivered, dead-lettered or skipped (or abandoned on a revoke)."""

    def priority(self, work: Work) -> int:
        """Whose turn comes first among the keys ready: lower first."""


class Engine:
    def __init__(
        self,
        source: EventSource,
        handler: Handler,
        *,
        options: Callable[[], Options],
        delivering: asyncio.Event,
        breaker: Breaker,
        progress: asyncio.Event,
        config: EngineConfig = EngineConfig(),
        folding: Folding | None = None,
        on_assignment: Callable[[int, int | None], None] | None = None,
        room: WaitingRoom | None = None,
    ) -> None:
        """``progress`` is set by whoever finishes an offset; the committer waits on it.
        ``folding``: how waiting events fold together (None: never). ``on_assignment(held,
        partitions)`` hears of every rebalance: how many of the topic's partitions this consumer
        holds now (the quota's part of them follows). ``room``: the events of people not known
        yet; the source reads its topic beside the events' (its records go to it)."""
        self._source = source
        self._options = options
        self._delivering = delivering
        self._breaker = breaker
        self._progress = progress
        self.config = config
        self.offsets: Offsets[Partition] = Offsets()
        self._folding = folding
        self.dispatcher: KeyedDispatcher[Work] = KeyedDispatcher(
            handler.handle,
            folder=folding,
            priority=handler.priority,
            workers=config.workers,
            spare=SPARE_WORKERS,
        )
        self.assigned = False
        """Partitions were assigned at the last rebalance (what /readyz reports)."""
        self.last_poll: float | None = None
        """When the loop last came round (monotonic): /healthz fails when it stops turning."""
        self.stopping = False
        self._paused = False
        self._on_assignment = on_assignment
        self._compacted_at = float("-inf")
        self.room = room
        self._swept_at = float("-inf")
        if room is not None:
            room.attach(self.dispatcher.submit)
        self._partitions = Partitions(
            source,
            self.offsets,
            self.dispatcher,
            grace_s=config.revoke_grace_s,
            on_assigned=self._on_assigned,
            on_held=self._on_held,
            on_revoked=room.revoked if room is not None else lambda partitions: None,
        )

    @property
    def buffered(self) -> int:
        return self.dispatcher.buffered

    def backlog(self) -> int | None:
        """Events of the assigned partitions not finished yet (fetched or not); None until a
        fetch has said where the partitions end."""
        total: int | None = None
        for partition in self._source.assignment():
            if self.waits_in(partition):
                continue
            end = self._source.high_watermark(partition)
            if end is None or partition not in self.offsets:
                continue
            total = (total or 0) + max(0, end - self.offsets[partition].position)
        return total

    def high_watermark(self, partition: Partition) -> int | None:
        return self._source.high_watermark(partition)

    def waits_in(self, partition: Partition) -> bool:
        """A partition of the waiting topic (events of people not known yet), not of events."""
        return self.room is not None and partition.topic == self.room.topic

    async def run(self, stop: asyncio.Event) -> int:
        """Consume until ``stop`` is set; the exit status: 0 clean, 1 when a delivery crashed."""
        await self._source.start(self._partitions)
        committer = asyncio.create_task(self._committer())
        status = 0
        try:
            while not stop.is_set():
                self.last_poll = time.monotonic()
                if self.dispatcher.crashed is not None:
                    log.error("delivery_crashed", error=repr(self.dispatcher.crashed))
                    status = 1
                    break
                self._flow_control()
                room = fetch_room(
                    self._held(),
                    self._limits,
                    most=self.config.fetch_max_records,
                    folding=self._folding is not None and self._folding.pressed(),
                )
                batches = await self._source.fetch(room, self.config.fetch_timeout_s)
                options = self._options()
                for partition, records in batches.items():
                    self._submit(partition, records, options)
        finally:
            self.stopping = True
            await self._shutdown(committer)
        return status

    def _held(self) -> Held:
        return Held(self.dispatcher.items, self.dispatcher.folded)

    @property
    def _limits(self) -> Limits:
        folds = self._folding is not None
        return Limits(self.config.max_buffered, self.config.max_folded if folds else 0)

    def _on_assigned(self) -> None:
        self.assigned = any(not self.waits_in(p) for p in self._source.assignment())

    def _on_held(self, held: frozenset[Partition]) -> None:
        if self._on_assignment is not None:
            events = sum(1 for p in held if not self.waits_in(p))
            self._on_assignment(events, self._source.partition_count())

    def _submit(self, partition: Partition, records: Sequence[Record], options: Options) -> None:
        if partition not in self.offsets:
            if partition not in self._source.assignment():
                return  # fetched just before a revoke: the next owner reads it again
            self.offsets.assign(partition, records[0].offset)
        tracker = self.offsets[partition]
        if self.room is not None and partition.topic == self.room.topic:
            self.room.arrived(partition, tracker, records, self._source.high_watermark(partition))
            # Marks of events that went are finished as they are read: committed now, not with
            # whatever finishes next (the waiting topic's lag would stay at 1 until then).
            self._progress.set()
            return
        now = time.monotonic()
        dispatcher = self.dispatcher
        folding = self._folding
        line_chars = folding.rules.max_line if folding and folding.rules.activities else None
        for record in records:
            try:
                tracker.fetched(record.offset, now)
            except ValueError:
                continue  # fetched again (a reset position): the first copy is already tracked
            work = work_from(record, tracker, options, line_chars=line_chars)
            dispatcher.submit(work.key, work)

    def _flow_control(self) -> None:
        folding = self._folding
        now = time.monotonic()
        if self.room is not None and now - self._swept_at >= 1.0:
            self._swept_at = now
            self.room.sweep()
        # Compacting walks every waiting key: once a second at most, since what cannot fold
        # (an identify, work under way) stays whole and keeps the condition true.
        if (
            folding
            and now - self._compacted_at >= 1.0
            and should_compact(
                self._held(), self._limits, paused=self._paused, pressed=folding.pressed()
            )
        ):
            self._compacted_at = now
            self.dispatcher.compact_waiting()  # room to read on, if what waits can fold
        pause = should_pause(
            self._held(),
            self._limits,
            paused=self._paused,
            delivering=self._delivering.is_set(),
            circuit_open=self._breaker.is_open(),
        )
        partitions = self._source.assignment()
        if pause and partitions:
            self._source.pause(partitions)  # newly assigned partitions must stop too
        elif self._paused and partitions:
            self._source.resume(partitions)
        self._paused = pause

    async def _committer(self) -> None:
        while True:
            await self._progress.wait()
            self._progress.clear()
            await self.commit()
            await asyncio.sleep(self.config.commit_spacing_s)

    async def commit(self) -> None:
        positions = self.offsets.to_commit()
        if not positions:
            return
        try:
            await self._source.commit(positions)
        except BrokerError as exc:
            # A rebalance took the partition: its next owner resumes from the last commit.
            log.warning("commit_failed", error=str(exc))
            return
        self.offsets.mark_committed(positions)

    async def _shutdown(self, committer: asyncio.Task[None]) -> None:
        grace = self.config.shutdown_grace_s
        dispatcher = self.dispatcher
        self._source.pause(self._source.assignment())
        log.info("stopping", in_flight=dispatcher.buffered, grace_s=grace)
        try:
            async with asyncio.timeout(grace):
                await dispatcher.wait_idle()
        except TimeoutError:
            log.warning("shutdown_grace_exceeded", abandoned=dispatcher.buffered)
        await dispatcher.cancel()
        committer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await committer
        await self.commit()
        await self._source.stop()
