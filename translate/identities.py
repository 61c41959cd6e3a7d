"""Who an event names: its email, userId and anonymousId (an alias: also its previousId), and the
keys the identity map knows them by.

Real streams name a person the way websites do: an ``anonymousId`` while they browse, a database
``userId`` with the email in the traits when they fill a form, then the ``userId`` alone for
months. An event names its person by the email it carries, else its userId, else its
anonymousId (``Names.keys`` in that order).

Some ids are not identities at all: libraries and templates send ``"anonymous"``, ``"null"``,
``"undefined"``, ``"0"``… for everybody, and linking such an id would merge strangers. These
*junk* ids are treated as absent everywhere: they never link, never find anyone, and are never
written to Freshsales.

Keys are hashes (sha256 of a domain tag and the value; an email lower-cased first), so the map
Kafka keeps holds no personal data in clear, and a deletion only has to drop hashes. One id
namespace serves userId, anonymousId and an alias' previousId: ``alias`` says exactly that an
old id and a userId are one person, whichever role the old id played.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Final, NamedTuple

JUNK_IDS: Final = frozenset(
    {"", "anonymous", "null", "undefined", "nil", "none", "0", "-1", "unknown", "guest", "n/a"}
)
"""Ids that name nobody in particular (compared ignoring case and surrounding spaces)."""

KEY_BYTES: Final = 16
"""A key is this many bytes of the sha256: 128 bits, collisions out of reach for any map."""

Key = bytes


def usable(value: str | None) -> str | None:
    """``value`` when it can name a person, else None (absent, blank or junk)."""
    if value is None:
        return None
    text = value.strip()
    if text.casefold() in JUNK_IDS:
        return None
    return text


KEYS_CACHED: Final = 16_384
"""Keys remembered per kind: an event's identities are asked for several times on its way (who it
is about, its locks, whether it was forgotten, what it links), and a person's next events carry
the same ones."""


@lru_cache(maxsize=KEYS_CACHED)
def email_key(email: str) -> Key:
    """The key of an email address: the same for any case of it."""
    return _hash(b"email\x00", email.strip().casefold())


@lru_cache(maxsize=KEYS_CACHED)
def id_key(value: str) -> Key:
    """The key of a userId, an anonymousId or an alias' previousId (one namespace)."""
    return _hash(b"id\x00", value.strip())


def _hash(tag: bytes, value: str) -> Key:
    return hashlib.sha256(tag + value.encode("utf-8", "surrogatepass")).digest()[:KEY_BYTES]


class Names(NamedTuple):
    """The identities one event carries, junk removed."""

    email: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    previous_id: str | None = None
    """An alias' previousId: another id of ``user_id``'s person."""

    @property
    def keys(self) -> tuple[Key, ...]:
        """The event's keys, in the order they name the person: email, userId, anonymousId."""
        return _keys(self.email, self.user_id, self.anonymous_id)

    @property
    def anonymous_only(self) -> bool:
        """Only an anonymousId names the person: a visitor before they sign up."""
        return self.email is None and self.user_id is None and self.anonymous_id is not None

    def describe(self) -> dict[str, str]:
        """The names as the dry run shows them (Segment's field names)."""
        fields = {
            "email": self.email,
            "userId": self.user_id,
            "anonymousId": self.anonymous_id,
            "previousId": self.previous_id,
        }
        return {name: value for name, value in fields.items() if value is not None}


NO_NAMES: Final = Names()


@lru_cache(maxsize=KEYS_CACHED)
def _keys(email: str | None, user_id: str | None, anonymous_id: str | None) -> tuple[Key, ...]:
    keys: list[Key] = []
    if email is not None:
        keys.append(email_key(email))
    for value in (user_id, anonymous_id):
        if value is not None:
            key = id_key(value)
            if key not in keys:
                keys.append(key)
    return tuple(keys)
