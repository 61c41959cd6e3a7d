"""Where the engine's results go, in memory: dead letters, the ledger, the account's standing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from consumer.engine.source import Record
from consumer.errors import BrokerError
from consumer.kafka.deadletters import Headers, letter_headers
from translate import DestinationError, LookupKind, Lookups, Reason

LOOKUPS: Lookups = {
    (LookupKind.LIFECYCLE_STAGE, "Lead"): 501,
    (LookupKind.LIFECYCLE_STAGE, "Customer"): 503,
    (LookupKind.SALES_ACTIVITY_TYPE, "Segment Event"): 701,
    (LookupKind.SALES_ACTIVITY_TYPE, "Page View"): 702,
    (LookupKind.DEFAULT_OWNER, ""): 900,
}


@dataclass
class Letter:
    record: Record
    reason: Reason
    error: DestinationError
    attempts: int

    @property
    def headers(self) -> Headers:
        from datetime import UTC, datetime

        return letter_headers(
            self.record, self.reason, self.error, attempts=self.attempts, at=datetime.now(UTC)
        )


@dataclass
class FakeLetters:
    """The engine's ``Letters``: keeps every letter; ``hold`` makes writes wait (Kafka down)."""

    letters: list[Letter] = field(default_factory=list)
    hold: asyncio.Event | None = None

    async def write(
        self, record: Record, reason: Reason, error: DestinationError, attempts: int
    ) -> None:
        if self.hold is not None:
            await self.hold.wait()
        self.letters.append(Letter(record, reason, error, attempts))

    @property
    def reasons(self) -> list[str]:
        return [letter.reason.value for letter in self.letters]


@dataclass
class FakeLedger:
    recorded: list[str] = field(default_factory=list)
    fails: bool = False

    async def record(self, message_id: str) -> None:
        if self.fails:
            raise BrokerError("ledger down")
        self.recorded.append(message_id)


class FakeStanding:
    """The engine's ``Standing``: the account's lookups, and a key that can be refused."""

    def __init__(self, lookups: Lookups = LOOKUPS) -> None:
        self._lookups = lookups
        self._delivering = asyncio.Event()
        self._delivering.set()
        self.refusals: list[DestinationError] = []

    @property
    def lookups(self) -> Lookups:
        return self._lookups

    @property
    def delivering(self) -> asyncio.Event:
        return self._delivering

    def refused(self, error: DestinationError) -> None:
        self.refusals.append(error)
        self._delivering.clear()

    def accept(self) -> None:
        self._delivering.set()
