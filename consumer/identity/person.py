"""A person as the identity map holds them, and what learning about them returned."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from consumer.identity.entries import Entry, Link, person_key
from translate import Key

LEAD = "Lead"
CONTACT = "Contact"


@dataclass(slots=True, eq=False)
class Person:
    id: int
    lead: bool
    owner_id: int | None = None
    accounts: tuple[Link, ...] | None = None
    # Tuples, not lists: a map of a million people is that many fewer objects for the garbage
    # collector to walk (a tuple of bytes is not tracked).
    firm: tuple[Key, ...] = ()
    soft: tuple[Key, ...] = ()

    @property
    def key(self) -> int:
        return person_key(self.id, lead=self.lead)

    def record(self) -> dict[str, object]:
        """The person as a chain of requests reads them (``translate.plan``)."""
        record: dict[str, object] = {
            "id": self.id,
            "targetable_type": LEAD if self.lead else CONTACT,
        }
        if self.owner_id is not None:
            record["owner_id"] = self.owner_id
        if self.accounts is not None:
            record["sales_accounts"] = self.accounts
        return record

    def identities(self) -> Iterator[Key]:
        yield from self.firm
        yield from self.soft


@dataclass(frozen=True, slots=True)
class Learned:
    """What an answer taught: the person, whether their record must be written, and the soft
    identities another person already had (first identification wins)."""

    person: Person
    changed: bool
    conflicts: tuple[Key, ...] = ()


@dataclass(frozen=True, slots=True)
class Aliased:
    """What an alias did: the record to write (None: nothing changed), and whether the two
    identities already named two different people (nothing is merged or moved then)."""

    entry: Entry | None
    conflict: bool = False


Listener = Callable[[Key, Person], None]
"""Told each time an identity comes to name a person (the waiting events of it can go)."""
