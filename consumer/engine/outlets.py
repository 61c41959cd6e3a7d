"""What the deliverer works with besides Freshsales: the account's standing, the dead-letter
topic, the ledger of delivered activities, the waiting topic, a way to read a record again, and
its memory."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from consumer.engine.memory.seen import SeenMessages
from consumer.engine.memory.unchanged import UpsertMemory
from consumer.engine.source import Partition, Record
from translate import DestinationError, Key, Lookups, Reason, Step, Translation

# Activities are plain creates: these are the types whose messageIds are de-duplicated.
ACTIVITY_TYPES = frozenset({"track", "page", "screen"})


class Standing(Protocol):
    """The account as deliveries need it: its settings, and whether the key is accepted."""

    @property
    def lookups(self) -> Lookups: ...

    @property
    def delivering(self) -> asyncio.Event:
        """Set while deliveries may talk to Freshsales."""

    def refused(self, error: DestinationError) -> None:
        """A fatal answer (a refused key): stop delivering until the key works again."""


class Letters(Protocol):
    async def write(
        self, record: Record, reason: Reason, error: DestinationError, attempts: int
    ) -> None:
        """Return once the dead-letter topic has the letter (never gives up: nothing may be
        lost, the offset stays open meanwhile)."""


class WaitingLog(Protocol):
    """The waiting topic: events of people not known yet, kept in Kafka while they wait."""

    @property
    def topic(self) -> str: ...

    async def keep(
        self,
        record: Record,
        keys: Sequence[Key],
        *,
        since_ms: int,
        kind: str,
        has_user: bool,
        message_id: str | None,
    ) -> None:
        """Return once the waiting topic has ``record``; raises BrokerError (BrokerRefused when
        it will never take it)."""

    async def done(self, partition: int, key: Key, offsets: Sequence[int]) -> None:
        """Return once the waiting topic's ``partition`` says these kept events went (so that a
        restart does not bring them back); raises BrokerError."""


RecordDelivered = Callable[[str], Awaitable[None]]
"""Write a delivered activity's messageId to the ledger; raises BrokerError."""
Reread = Callable[[Partition, int], Awaitable[Record | None]]
"""The source's ``reread``: a folded event's record, to dead-letter or send it on its own."""


@dataclass
class Memory:
    """What the engine remembers to spend fewer calls (who people are: ``Identities``)."""

    upserts: UpsertMemory | None
    seen: SeenMessages


def finds_person(translation: Translation) -> bool:
    # A person read by the id memory holds (a group without email) is not found by the event.
    return any(
        request.step is Step.PERSON and "{person." not in request.path
        for request in translation.requests
    )


def activity_id(translation: Translation) -> str | None:
    return translation.message_id if translation.type in ACTIVITY_TYPES else None
