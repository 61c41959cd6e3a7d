"""The real engine on in-memory fakes: the fetch loop, dispatch, folding, delivery and commits, with
an in-memory event source and Freshsales — no broker, no HTTP, milliseconds per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from consumer.backoff import Backoff
from consumer.engine.breaker import Breaker
from consumer.engine.delivery import Deliverer
from consumer.engine.folding import Folding, FoldRules
from consumer.engine.loop import Engine, EngineConfig
from consumer.engine.memory.seen import SeenMessages
from consumer.engine.memory.unchanged import UpsertMemory
from consumer.engine.outlets import Memory
from consumer.engine.people import Identities
from consumer.engine.policy import RetryPolicy
from consumer.engine.source import Partition
from consumer.engine.stats import Stats
from consumer.engine.waitroom import WaitingRoom, WaitRules
from consumer.identity.book import Book
from tests.fakes.freshsales import FakeFreshsales
from tests.fakes.identities import WAITING, FakeIdentityLog, FakeWaitingLog
from tests.fakes.outlets import FakeLedger, FakeLetters, FakeStanding
from tests.fakes.source import FakeSource
from translate import Options

LIMIT_S = 10.0
OPTIONS = Options()
TOPIC_PARTITION = Partition("events", 0)
QUICK_RETRIES = RetryPolicy(backoff=Backoff(0.001, 0.001, jitter=True), window_s=3600.0)


@dataclass
class Rig:
    source: FakeSource
    freshsales: FakeFreshsales
    letters: FakeLetters
    ledger: FakeLedger
    standing: FakeStanding
    breaker: Breaker
    deliverer: Deliverer
    engine: Engine
    pressed: list[bool]
    """[whether calls wait for the quota]: set it to change it while the engine runs."""
    book: Book
    identity_log: FakeIdentityLog
    waiting: FakeWaitingLog
    room: WaitingRoom
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    status: int | None = None

    @property
    def stats(self) -> Stats:
        return self.deliverer.stats

    async def until(self, condition: Callable[[], bool], what: str = "condition") -> None:
        """Wait for ``condition`` while the engine runs (fails after LIMIT_S)."""
        try:
            async with asyncio.timeout(LIMIT_S):
                while not condition():
                    await asyncio.sleep(0.001)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    async def until_finished(self, count: int) -> None:
        await self.until(lambda: self.stats.finished >= count, f"{count} events finished")

    async def until_committed(self, position: int, partition: int = 0) -> None:
        await self.until(
            lambda: (self.source.position_committed(partition) or 0) >= position,
            f"position {position} of partition {partition} committed",
        )


def rig(
    partitions: int = 1,
    *,
    options: Options = OPTIONS,
    max_buffered: int = 10_000,
    shutdown_grace_s: float = 5.0,
    revoke_grace_s: float = 1.0,
    fold: bool = True,
    rules: FoldRules | None = None,
    pressed: bool = False,
    policy: RetryPolicy = QUICK_RETRIES,
    breaker: Breaker | None = None,
    dedupe: bool = True,
    on_assignment: Callable[[int, int | None], None] | None = None,
    waiting_partitions: int = 1,
    wait: WaitRules | None = None,
    book: Book | None = None,
) -> Rig:
    source = FakeSource(partitions, waiting_topic=WAITING, waiting_partitions=waiting_partitions)
    quota = [pressed]  # whether calls wait for the quota: activities fold only then
    freshsales = FakeFreshsales()
    letters, ledger, standing = FakeLetters(), FakeLedger(), FakeStanding()
    breaker = breaker or Breaker()
    progress = asyncio.Event()
    book = book if book is not None else Book()
    identity_log, waiting = FakeIdentityLog(), FakeWaitingLog(source)
    room = WaitingRoom(WAITING, book, wait or WaitRules(grace_s=0.01))
    deliverer = Deliverer(
        freshsales,
        standing,
        Memory(UpsertMemory(3600.0), SeenMessages(3600.0 if dedupe else 0)),
        letters,
        ledger.record,
        identities=Identities(book, identity_log),
        waiting=waiting,
        policy=policy,
        breaker=breaker,
        progress=progress,
        options=lambda: options,
        reread=source.reread,
        put_back=room.put_back,
    )
    engine = Engine(
        source,
        deliverer,
        options=lambda: options,
        delivering=standing.delivering,
        breaker=breaker,
        progress=progress,
        config=EngineConfig(
            max_buffered=max_buffered,
            shutdown_grace_s=shutdown_grace_s,
            revoke_grace_s=revoke_grace_s,
            fetch_timeout_s=0.01,
            commit_spacing_s=0.0,
        ),
        folding=Folding(rules or FoldRules(), pressed=lambda: quota[0]) if fold else None,
        on_assignment=on_assignment,
        room=room,
    )
    return Rig(
        source,
        freshsales,
        letters,
        ledger,
        standing,
        breaker,
        deliverer,
        engine,
        quota,
        book,
        identity_log,
        waiting,
        room,
    )


@asynccontextmanager
async def running(r: Rig) -> AsyncIterator[Rig]:
    """The engine's fetch loop runs inside; leaving stops it (as SIGTERM does) and waits."""
    task = asyncio.create_task(r.engine.run(r.stop))
    try:
        yield r
    finally:
        r.stop.set()
        r.status = await asyncio.wait_for(task, LIMIT_S)
