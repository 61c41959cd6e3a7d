"""Who an event is about, decided when its turn comes: the person to deliver it on, or that it
waits. Pure: a translation and the identity map in, a decision out.

MAPPING.md, "Who an event is about": an event names its person by the email it carries, else its
userId, else its anonymousId. The decision is taken when the event is due, not when it is read:
by then the identify before it (same user, same partition) has been delivered and its person is
in the map.
"""

from __future__ import annotations

from dataclasses import dataclass

from consumer.identity.book import Book, Person
from translate import Key, Names, Translation, email_key, id_key


@dataclass(frozen=True, slots=True)
class Deliver:
    person: Person | None
    """The person the map knows (their record starts the chain), or None: the event's own
    requests find the person (by email)."""
    by_id: bool = False
    """An identify whose email is a new one of the person its userId names: sent as an update
    by id (a second record with that userId would be refused: "External ID has already been
    taken")."""


@dataclass(frozen=True, slots=True)
class Suppress:
    """The event names a person who asked to be forgotten: acknowledged, never delivered."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Nobody the map knows, and no email to find them by: the event waits, under these
    identities (userId first), until an identify or an alias names the person."""

    keys: tuple[Key, ...]


Decision = Deliver | Wait | Suppress


def forgotten(names: Names, book: Book) -> bool:
    """Whether ``names`` name a person who asked to be forgotten: by the email or the userId it
    carries, or — carrying neither — by its anonymousId. (A new user on a browser a forgotten
    person used is not suppressed for it: their own email or userId names them.)"""
    if names.email is not None or names.user_id is not None:
        return any(
            book.is_suppressed(key)
            for key in (
                email_key(names.email) if names.email is not None else None,
                id_key(names.user_id) if names.user_id is not None else None,
            )
            if key is not None
        )
    return names.anonymous_id is not None and book.is_suppressed(id_key(names.anonymous_id))


def decide(translation: Translation, book: Book) -> Decision:
    names = translation.names
    if forgotten(names, book):
        return Suppress()
    if names.email is not None:
        if translation.type == "identify" and names.user_id is not None:
            theirs = book.owner_of(id_key(names.user_id))
            if theirs is not None and book.owner_of(email_key(names.email)) is not theirs:
                return Deliver(theirs, by_id=True)
            return Deliver(None)
        # The map spares the minimal upsert a track makes to find the person by email.
        return Deliver(book.find(names.keys))
    person = book.find(names.keys)
    if person is not None:
        return Deliver(person)
    return Wait(names.keys)


@dataclass(frozen=True, slots=True)
class Links:
    firm: tuple[Key, ...]
    soft: tuple[Key, ...]


def links(translation: Translation, *, by_id: bool = False) -> Links:
    """The identities a delivered event ties to the person its requests reached. Firm: what
    Freshsales found the person by or wrote (the email of an upsert by email, an identify's
    userId as ``external_id``). Soft: what only the event says (its anonymousId; the userId of a
    track, whose minimal upsert writes no ``external_id``)."""
    names: Names = translation.names
    firm: list[Key] = []
    soft: list[Key] = []
    if names.email is not None:
        firm.append(email_key(names.email))
    if names.user_id is not None:
        (firm if translation.type == "identify" or by_id else soft).append(id_key(names.user_id))
    if names.anonymous_id is not None:
        key = id_key(names.anonymous_id)
        if key not in firm and key not in soft:
            soft.append(key)
    return Links(tuple(firm), tuple(soft))
