"""The records of the identity topic, as values, and their bytes.

One entry per person, keyed by the person (``c123``: contact 123; ``l123``: Classic lead 123),
holding everything the deployment knows of them: the Freshsales id and kind, the owner, the
accounts (a link must write them all back), and the hashes of every identity that names them.
Each record is the person's whole state, so a later one replaces an earlier one and nothing
depends on compaction to find the latest. ``snapshot`` records restate the map so that start-up
can begin at the last snapshot instead of the topic's beginning: they only fill gaps, never
override what a record after the snapshot's start already said (``Book.apply``).

A record holds one entry, or — written under load, or restating the map — a batch of them in
order (``encode_many``).

Identities are 16-byte hashes (``translate.identities``), written as hex: no email, userId or
anonymousId is ever in the topic in clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import orjson

from translate import Key

FORMAT: Final = 1
"""The version of the records' shape: a reader skips records of a later version it cannot read."""
MARKER_KEY: Final = b"fsd-marker"
BATCH_KEY: Final = b"fsd-batch"

Link = tuple[int, bool]
"""An account id and whether it is the person's primary account."""


@dataclass(frozen=True, slots=True)
class PersonEntry:
    id: int
    lead: bool
    """A Classic lead (its own id space and endpoints); False for a contact (Suite leads too)."""
    owner_id: int | None
    accounts: tuple[Link, ...] | None
    """None: not known (never read from an answer that listed them)."""
    firm: tuple[Key, ...]
    """Identities Freshsales confirmed: the email it found the person by, the userId written as
    ``external_id``. The latest record to claim one wins it."""
    soft: tuple[Key, ...]
    """Identities the events linked: anonymousIds, alias ids, a track's userId. The first person
    to claim one keeps it (a shared computer must not move a visitor to the next user)."""
    snapshot: bool = False


@dataclass(frozen=True, slots=True)
class GoneEntry:
    """The person no longer exists in Freshsales: every identity of theirs is free again."""

    id: int
    lead: bool


@dataclass(frozen=True, slots=True)
class AliasEntry:
    """Two identities of one person neither of which names anybody known yet: whoever turns out
    to be one of them is the other too."""

    first: Key
    second: Key


@dataclass(frozen=True, slots=True)
class ForgottenEntry:
    """A deletion request: ``people`` are erased from Freshsales, and ``keys`` — every identity
    of theirs, and the one the request named (``request``) — name nobody the service may deliver
    for, until the request is undone."""

    request: Key
    keys: tuple[Key, ...]
    people: tuple[tuple[int, bool], ...] = ()
    """(id, lead) of each person erased (written before they are: the replicas stop delivering
    for them first)."""
    done: bool = False
    """Written again once Freshsales erased them all: the same request later (a replay, the
    command run again) finds nobody left to erase. Until then it erases them again."""


@dataclass(frozen=True, slots=True)
class UnsuppressedEntry:
    """``forget --undo``: the identities the request named may be delivered for again."""

    request: Key


Entry = PersonEntry | GoneEntry | AliasEntry | ForgottenEntry | UnsuppressedEntry


def person_key(ident: int, *, lead: bool) -> int:
    """One int per person: contacts and Classic leads have separate id spaces."""
    return ident << 1 | lead


def record_key(ident: int, *, lead: bool) -> bytes:
    return f"{'l' if lead else 'c'}{ident}".encode()


def encode(entry: Entry) -> tuple[bytes, bytes]:
    """The record's key and value."""
    key, value = _encoded(entry)
    return key, orjson.dumps(value)


def encode_many(entries: Sequence[Entry]) -> tuple[bytes, bytes]:
    """One record for ``entries``, in order: a writer under load states many people per record,
    so that producing and reading the topic costs one record, not one per person."""
    if len(entries) == 1:
        return encode(entries[0])
    values = [_encoded(entry)[1] for entry in entries]
    return BATCH_KEY, orjson.dumps({"f": FORMAT, "t": "batch", "entries": values})


def _encoded(entry: Entry) -> tuple[bytes, dict[str, object]]:
    if isinstance(entry, PersonEntry):
        value: dict[str, object] = {
            "f": FORMAT,
            "t": "person",
            "id": entry.id,
            "lead": entry.lead,
            "owner": entry.owner_id,
            "acc": None if entry.accounts is None else [list(a) for a in entry.accounts],
            "firm": [k.hex() for k in entry.firm],
            "soft": [k.hex() for k in entry.soft],
        }
        if entry.snapshot:
            value["snap"] = True
        return record_key(entry.id, lead=entry.lead), value
    if isinstance(entry, GoneEntry):
        value = {"f": FORMAT, "t": "gone", "id": entry.id, "lead": entry.lead}
        return record_key(entry.id, lead=entry.lead), value
    if isinstance(entry, AliasEntry):
        value = {"f": FORMAT, "t": "alias", "a": entry.first.hex(), "b": entry.second.hex()}
        return b"a" + entry.first.hex().encode(), value
    key = b"f" + entry.request.hex().encode()
    if isinstance(entry, ForgottenEntry):
        value = {
            "f": FORMAT,
            "t": "forgotten",
            "r": entry.request.hex(),
            "keys": [k.hex() for k in entry.keys],
            "people": [[ident, lead] for ident, lead in entry.people],
        }
        if entry.done:
            value["done"] = True
        return key, value
    return key, {"f": FORMAT, "t": "unsuppressed", "r": entry.request.hex()}


class Unreadable(ValueError):
    """A record this version cannot read (a later format, or damaged): skipped and counted."""


def decode(value: bytes | None) -> Entry | None:
    """The entry in a single-entry record's value; None for a record that is not an entry (a
    marker)."""
    entries, problems = decode_all(value)
    if problems:
        raise problems[0]
    if len(entries) > 1:
        raise Unreadable("a batch record where one entry was expected")
    return entries[0] if entries else None


def decode_all(value: bytes | None) -> tuple[list[Entry], list[Unreadable]]:
    """The entries in a record's value, in order (none for a marker), and what could not be read
    (a batch's readable entries are kept beside an unreadable one)."""
    if not value:
        return [], []
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return [], [Unreadable(f"not JSON: {exc}")]
    if isinstance(data, dict) and data.get("f") == FORMAT and data.get("t") == "batch":
        items = data.get("entries")
        if not isinstance(items, list):
            return [], [Unreadable("a batch record without its entries")]
    else:
        items = [data]
    entries: list[Entry] = []
    problems: list[Unreadable] = []
    for item in items:
        try:
            entries.append(_entry(item))
        except Unreadable as exc:
            problems.append(exc)
    return entries, problems


def _entry(data: object) -> Entry:
    if not isinstance(data, dict) or data.get("f") != FORMAT:
        raise Unreadable("not a record of this format")
    kind = data.get("t")
    try:
        if kind == "person":
            return PersonEntry(
                _int(data["id"]),
                data["lead"] is True,
                None if data.get("owner") is None else _int(data["owner"]),
                _links(data.get("acc")),
                _keys(data.get("firm", ())),
                _keys(data.get("soft", ())),
                data.get("snap") is True,
            )
        if kind == "gone":
            return GoneEntry(_int(data["id"]), data["lead"] is True)
        if kind == "alias":
            return AliasEntry(_key(data["a"]), _key(data["b"]))
        if kind == "forgotten":
            people = _links(data.get("people", []))  # [id, is_lead] pairs, as accounts are
            return ForgottenEntry(
                _key(data["r"]), _keys(data["keys"]), people or (), data.get("done") is True
            )
        if kind == "unsuppressed":
            return UnsuppressedEntry(_key(data["r"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise Unreadable(f"a {kind} record without its fields: {exc!r}") from None
    raise Unreadable(f"unknown record type {kind!r}")


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _key(value: object) -> Key:
    if not isinstance(value, str):
        raise TypeError("expected a hex key")
    return bytes.fromhex(value)


def _keys(values: object) -> tuple[Key, ...]:
    if not isinstance(values, list | tuple):
        raise TypeError("expected a list of keys")
    return tuple(_key(v) for v in values)


def _links(value: object) -> tuple[Link, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise TypeError("expected a list of [id, flag] pairs")
    links: list[Link] = []
    for entry in value:
        if not isinstance(entry, Sequence) or len(entry) != 2:
            raise TypeError("expected [id, flag]")
        links.append((_int(entry[0]), entry[1] is True))
    return tuple(links)
