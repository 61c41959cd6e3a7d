"""The identity map in memory: every person the deployment knows, and which identities name them.

One entry per person, whatever identities they are known by (a database userId, a userId that is
their email, the anonymousIds of their browsers, alias ids): what the last answer said about
them — their accounts above all — is what the next write builds on. Freshsales replaces a
contact's whole account list with what a write sends, so a second, stale copy of a person would
unlink accounts.

The map is a function of the identity topic's records, read in order (``apply``), plus what this
process learned and has written but not read back yet (``learn``): every replica that has read the
same records holds the same map. The rules that make that true:

- a person's record is their whole state: owner and accounts are replaced by each record;
- identities only join a person, never leave by being left out of a record (so records written
  by two replicas at once merge instead of overwriting each other's links); they move or go only
  by rule:
- a *firm* identity (Freshsales found the person by that email, or wrote that userId) belongs to
  the latest person a record claims it for;
- a *soft* identity (an anonymousId, an alias, a track's userId) stays with the first person
  that claimed it ("first identification wins": a visitor on a shared computer is never moved to
  the next user); a later claim is a conflict, counted. A soft link this process made itself is
  provisional until it reads it back: a claim the topic holds before it wins instead;
- a snapshot record only fills gaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from consumer.identity.aliases import PendingAliases
from consumer.identity.entries import (
    AliasEntry,
    Entry,
    ForgottenEntry,
    GoneEntry,
    PersonEntry,
    UnsuppressedEntry,
    person_key,
)
from consumer.identity.person import LEAD, Aliased, Learned, Listener, Person
from consumer.identity.suppression import Forgotten, Suppressions
from translate import Key

__all__ = ["Book", "Person"]

MAX_PENDING_ALIASES = 100_000
"""Aliases between two identities nobody is known by yet, kept at most (the oldest go first)."""


class Book:
    def __init__(self, *, max_pending_aliases: int = MAX_PENDING_ALIASES) -> None:
        self._people: dict[int, Person] = {}
        self._index: dict[Key, int] = {}
        self._provisional: set[Key] = set()
        self._gone: set[int] = set()
        """People removed since this process started: a snapshot must not bring them back."""
        self._aliases = PendingAliases(max_pending_aliases)
        self._listeners: list[Listener] = []
        self._suppressed = Suppressions()
        self.conflicts = 0
        """Soft identities a second person claimed (first identification wins)."""

    # --- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._people)

    @property
    def identities(self) -> int:
        return len(self._index)

    @property
    def pending_aliases(self) -> int:
        return len(self._aliases)

    def people(self) -> Iterator[Person]:
        return iter(list(self._people.values()))

    def find(self, keys: Iterable[Key]) -> Person | None:
        """The person the first of ``keys`` that anyone is known by names."""
        index = self._index
        for key in keys:
            found = index.get(key)
            if found is not None:
                return self._people[found]
        return None

    def owner_of(self, key: Key) -> Person | None:
        found = self._index.get(key)
        return None if found is None else self._people[found]

    def get(self, ident: int, *, lead: bool) -> Person | None:
        return self._people.get(person_key(ident, lead=lead))

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def listen_forgotten(self, listener: Forgotten) -> None:
        self._suppressed.listen(listener)

    # --- deletion ------------------------------------------------------------------------------

    @property
    def suppressed(self) -> int:
        return len(self._suppressed)

    def is_suppressed(self, key: Key) -> bool:
        return key in self._suppressed

    def forget(
        self,
        request: Key,
        keys: Iterable[Key],
        erased: Iterable[tuple[int, bool]],
        *,
        done: bool = False,
    ) -> ForgottenEntry:
        """A deletion request named ``keys`` (``request`` first among them) and is to erase
        ``erased`` from Freshsales: those people — and whoever ``keys`` name — leave the map, and
        every identity of theirs, with ``keys``, is suppressed. The record to write (``done``:
        nobody is left to erase)."""
        people = set(erased)
        for key in keys:
            owner = self.owner_of(key)
            if owner is not None:
                people.add((owner.id, owner.lead))
        named = dict.fromkeys([request, *keys])
        for ident, lead in people:
            person = self.get(ident, lead=lead)
            if person is not None:
                named.update(dict.fromkeys(person.identities()))
        entry = ForgottenEntry(request, tuple(named), tuple(sorted(people)), done)
        self.apply(entry)
        return entry

    def erased_by(self, request: Key) -> tuple[tuple[tuple[int, bool], ...], bool]:
        """The people an earlier deletion request with the same identity erases, and whether
        Freshsales erased them all: if not (a refusal, a crash half-way), the same request again
        erases them again."""
        return self._suppressed.people_of(request)

    def unsuppress(self, key: Key) -> UnsuppressedEntry | None:
        """``forget --undo``: lifts the deletion request that suppresses ``key`` — whichever
        identity of the person the request named — with every identity it suppressed. The record
        to write, or None when ``key`` is not suppressed."""
        request = self._suppressed.request_of(key)
        if request is None:
            return None
        entry = UnsuppressedEntry(request)
        self.apply(entry)
        return entry

    # --- what this process learns ----------------------------------------------------------

    def learn(
        self, record: Mapping[str, object], *, firm: Iterable[Key] = (), soft: Iterable[Key] = ()
    ) -> Learned | None:
        """An answer named a person (``record``: as ``translate.step_record`` reads it), for an
        event that carries ``firm`` and ``soft`` identities. None when the record names nobody."""
        ident = record.get("id")
        if not isinstance(ident, int) or isinstance(ident, bool):
            return None
        lead = record.get("targetable_type") == LEAD
        key = person_key(ident, lead=lead)
        person = self._people.get(key)
        changed = person is None
        if person is None:
            person = self._people[key] = Person(ident, lead)
            self._gone.discard(key)
        owner = record.get("owner_id")
        if isinstance(owner, int) and not isinstance(owner, bool) and owner != person.owner_id:
            person.owner_id, changed = owner, True
        accounts = record.get("sales_accounts")
        if isinstance(accounts, tuple) and accounts != person.accounts:
            person.accounts, changed = accounts, True
        suppressed = self._suppressed
        for k in firm:
            if k not in suppressed:
                changed |= self._claim_firm(person, k)
        conflicts = []
        for k in soft:
            if k in suppressed:
                continue  # a forgotten person's identity: never linked again
            owner_key = self._index.get(k)
            if owner_key is None:
                self._link(person, k, soft=True)
                self._provisional.add(k)
                changed = True
            elif owner_key != key:
                conflicts.append(k)
                self.conflicts += 1
        return Learned(person, changed, tuple(conflicts))

    def alias(self, first: Key, second: Key) -> Aliased:
        """An alias: ``first`` and ``second`` are one person. Writes the person who gained an
        identity, or the alias itself while neither is known yet; nothing when both are theirs
        already, or two different people's (a conflict, counted)."""
        a, b = self.owner_of(first), self.owner_of(second)
        if a is not None and b is not None:
            if a is not b:
                self.conflicts += 1
            return Aliased(None, conflict=a is not b)
        known, other = (a, second) if a is not None else (b, first)
        if other in self._suppressed:
            return Aliased(None)  # a forgotten person's identity: never linked again
        if known is None:
            self._aliases.add(first, second)
            return Aliased(AliasEntry(first, second))
        self._link(known, other, soft=True)
        self._provisional.add(other)
        return Aliased(self.entry(known))

    def remove(self, person: Person) -> GoneEntry:
        """The person is gone from Freshsales (a refusal said so): every identity is free."""
        self._drop(person.key)
        return GoneEntry(person.id, person.lead)

    def entry(self, person: Person, *, snapshot: bool = False) -> PersonEntry:
        """The record that states ``person`` whole. A snapshot leaves out the soft links this
        process has not read back: the record that will confirm them is still to come."""
        soft = person.soft
        if snapshot and self._provisional:
            soft = tuple(k for k in soft if k not in self._provisional)
        return PersonEntry(
            person.id, person.lead, person.owner_id, person.accounts, person.firm, soft, snapshot
        )

    def snapshot(self) -> Iterator[Entry]:
        """Records that restate the whole map."""
        for person in self.people():
            yield self.entry(person, snapshot=True)
        for first, second in self._aliases.pairs():
            yield AliasEntry(first, second)
        for request, keys, people, done in self._suppressed.requests():
            yield ForgottenEntry(request, keys, people, done)

    # --- what the topic says ---------------------------------------------------------------

    def apply(self, entry: Entry) -> None:
        """A record of the identity topic, in the topic's order."""
        if isinstance(entry, PersonEntry):
            self._apply_person(entry)
        elif isinstance(entry, GoneEntry):
            self._drop(person_key(entry.id, lead=entry.lead))
        elif isinstance(entry, ForgottenEntry):
            self._apply_forgotten(entry)
        elif isinstance(entry, UnsuppressedEntry):
            self._suppressed.lift(entry.request)
        else:
            a, b = self.owner_of(entry.first), self.owner_of(entry.second)
            if a is None and b is None:
                self._aliases.add(entry.first, entry.second)
            elif (a is None or b is None) and not (
                entry.first in self._suppressed or entry.second in self._suppressed
            ):
                known, other = (a, entry.second) if a is not None else (b, entry.first)
                assert known is not None
                self._link(known, other, soft=True)

    def _apply_forgotten(self, entry: ForgottenEntry) -> None:
        for ident, lead in entry.people:
            self._drop(person_key(ident, lead=lead))
        for key in entry.keys:
            owner = self._index.get(key)
            if owner is not None:  # a person the request did not name (known elsewhere)
                self._drop(owner)
            self._aliases.take(key)
        self._suppressed.add(entry.request, entry.keys, entry.people, entry.done)

    def _apply_person(self, entry: PersonEntry) -> None:
        key = person_key(entry.id, lead=entry.lead)
        person = self._people.get(key)
        if entry.snapshot:
            if person is not None or key in self._gone:
                return  # a record after the snapshot's start said more, or removed them
            person = self._people[key] = Person(entry.id, entry.lead)
            person.owner_id, person.accounts = entry.owner_id, entry.accounts
            for k in entry.firm:
                if k not in self._index and k not in self._suppressed:
                    self._link(person, k, soft=False)
            for k in entry.soft:
                if k not in self._index and k not in self._suppressed:
                    self._link(person, k, soft=True)
            return
        if person is None:
            person = self._people[key] = Person(entry.id, entry.lead)
            self._gone.discard(key)
        person.owner_id, person.accounts = entry.owner_id, entry.accounts
        suppressed = self._suppressed
        for k in entry.firm:
            if k not in suppressed:
                self._claim_firm(person, k)
                self._provisional.discard(k)
        for k in entry.soft:
            if k in suppressed:
                continue
            owner_key = self._index.get(k)
            if owner_key == key:
                self._provisional.discard(k)
            elif owner_key is None:
                self._link(person, k, soft=True)
            elif k in self._provisional:
                # Our own claim is not in the topic yet, and this one is before it: it wins.
                self._provisional.discard(k)
                self._unlink(k)
                self._link(person, k, soft=True)
            else:
                self.conflicts += 1

    # --- the index ---------------------------------------------------------------------------

    def _claim_firm(self, person: Person, key: Key) -> bool:
        owner_key = self._index.get(key)
        if owner_key == person.key:
            if key in person.soft:  # confirmed by Freshsales now
                person.soft = _without(person.soft, key)
                person.firm += (key,)
            return False
        if owner_key is not None:
            self._unlink(key)
        self._link(person, key, soft=False)
        return True

    def _link(self, person: Person, key: Key, *, soft: bool) -> None:
        self._index[key] = person.key
        if soft:
            person.soft += (key,)
        else:
            person.firm += (key,)
        for listener in self._listeners:
            listener(key, person)
        partner = self._aliases.take(key)
        # A pending alias' ids are nobody's (else it was resolved): the partner joins them.
        if partner is not None and partner not in self._suppressed:
            self._link(person, partner, soft=True)

    def _unlink(self, key: Key) -> None:
        person = self._people[self._index.pop(key)]
        if key in person.firm:
            person.firm = _without(person.firm, key)
        else:
            person.soft = _without(person.soft, key)

    def _drop(self, key: int) -> None:
        person = self._people.pop(key, None)
        self._gone.add(key)
        if person is None:
            return
        for k in person.identities():  # a person's lists hold exactly the keys indexed to them
            del self._index[k]
            self._provisional.discard(k)


def _without(keys: tuple[Key, ...], key: Key) -> tuple[Key, ...]:
    return tuple(k for k in keys if k != key)
