"""The identity map as the deliverer uses it: who an event is about, the locks that keep one
person's writes apart, what answers teach, and the records that keep it in Kafka.

A delivery holds its person (``Holding``) from its first call to its last: the locks of its
identities and, once known, of its person. Every answer that names the person is learned at
once, so the next request builds on it; when the event is done, the identities it carries are
linked, and if anything changed the person's record is written to the identity topic before the
event's offset may be committed (a crash must not forget who someone is).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from consumer.identity import locks as lock_names
from consumer.identity.book import Book, Person
from consumer.identity.decide import Decision, Deliver, decide, forgotten, links
from consumer.identity.entries import Entry
from consumer.identity.locks import LockName, Locks
from translate import Key, Translation


class IdentityLog(Protocol):
    async def write(self, entries: Sequence[Entry]) -> None:
        """Return once the identity topic has ``entries`` (never gives up: the event's offset
        stays open meanwhile)."""


class Identities:
    def __init__(self, book: Book, log: IdentityLog) -> None:
        self.book = book
        self._log = log
        self.locks = Locks()

    def decide(self, translation: Translation) -> Decision:
        return decide(translation, self.book)

    def is_new(self, translation: Translation) -> bool:
        """Nobody the map knows: a new lead, whose identify goes before others' activities."""
        return self.book.find(translation.names.keys) is None

    async def hold(self, translation: Translation, decision: Deliver) -> Holding:
        """Take the locks of the event's identities and of its person (when known)."""
        names = [lock_names.identity(k) for k in translation.names.keys]
        if decision.person is not None:
            names.append(lock_names.person(decision.person.key))
        held = await self.locks.acquire(names)
        person = decision.person
        if person is not None:  # it may have changed (or gone) while the locks were waited for
            person = self.book.get(person.id, lead=person.lead)
        holding = Holding(self, held, person)
        holding.suppressed = forgotten(translation.names, self.book)
        return holding

    async def write(self, entries: Sequence[Entry]) -> None:
        if entries:
            await self._log.write(entries)


class Holding:
    """One delivery's hold on its person: the chain's ``People`` (``consumer.engine.chain``)."""

    def __init__(self, identities: Identities, held: list[LockName], person: Person | None):
        self._identities = identities
        self._held = held
        self.person = person
        self.changed = False
        """An answer changed what the map knows of the person (to be written)."""
        self.suppressed = False
        """The event's identities were suppressed (a deletion request) by the time it held
        them: nothing is to be sent."""

    @property
    def record(self) -> dict[str, object] | None:
        """The person as a chain starts with them (None: its own requests find them)."""
        return self.person.record() if self.person is not None else None

    def latest(self, record: Mapping[str, object]) -> Mapping[str, object]:
        person = self._find(record)
        return person.record() if person is not None else record

    async def met(self, record: Mapping[str, object], *, fresh: bool) -> Mapping[str, object]:
        book = self._identities.book
        known = self._find(record)
        if fresh or known is None:
            learned = book.learn(record)
            if learned is None:
                return record
            self.changed |= learned.changed
            known = learned.person
        name = lock_names.person(known.key)
        if name not in self._held:
            waited = self._identities.locks
            self._held += await waited.acquire([name])
            known = book.get(known.id, lead=known.lead) or known
        self.person = known
        return known.record()

    async def settle(self, translation: Translation, *, by_id: bool = False) -> tuple[Key, ...]:
        """The event reached its person: link the identities it carries and write the person's
        record when anything changed. Returns the identities another person already had."""
        person = self.person
        if person is None:
            return ()
        book = self._identities.book
        tied = links(translation, by_id=by_id)
        learned = book.learn(person.record(), firm=tied.firm, soft=tied.soft)
        if learned is None:
            return ()
        if learned.changed or self.changed:
            await self._identities.write([book.entry(learned.person)])
            self.changed = False
        return learned.conflicts

    def forgotten(self, translation: Translation) -> bool:
        """Whether the event's person asked to be forgotten meanwhile."""
        return forgotten(translation.names, self._identities.book)

    async def lost(self) -> None:
        """Freshsales refused the person the map remembered: they are gone (deleted there).
        Every identity of theirs is free again, here and in every replica."""
        person = self.person
        if person is None:
            return
        book = self._identities.book
        if book.get(person.id, lead=person.lead) is not None:
            await self._identities.write([book.remove(person)])
        self.person = None

    def release(self) -> None:
        self._identities.locks.release(self._held)
        self._held = []

    def _find(self, record: Mapping[str, object]) -> Person | None:
        ident = record.get("id")
        if not isinstance(ident, int) or isinstance(ident, bool):
            return None
        return self._identities.book.get(ident, lead=record.get("targetable_type") == "Lead")
