"""The records of the waiting topic: an event kept while its person is not known, and the mark
that says kept events went (delivered in a visitor's history, expired or dead-lettered).

A kept event is the source record itself — its value, key and headers byte for byte, so that it
can be delivered, or dead-lettered with its original bytes, however long it waited and whatever
the source topic's retention did meanwhile — plus ``fsd-wait-*`` headers that say under which
identities (hashed) it waits, since when, what it is, and where it came from. Those headers are
all the waiting room reads when it rebuilds its shelves after a restart: the values are read
again only when the events go. Keyed by the identity, so one identity's events share a
partition, and so one owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from consumer.engine.source import Headers, Record
from translate import Key

PREFIX: Final = "fsd-wait-"
KEYS: Final = PREFIX + "keys"
SINCE: Final = PREFIX + "since"
KIND: Final = PREFIX + "kind"
USER: Final = PREFIX + "user"
MESSAGE_ID: Final = PREFIX + "message-id"
TOPIC: Final = PREFIX + "source-topic"
PARTITION: Final = PREFIX + "source-partition"
OFFSET: Final = PREFIX + "source-offset"
TIMESTAMP: Final = PREFIX + "source-timestamp"
SOURCE_KEY: Final = PREFIX + "source-key"
DONE: Final = PREFIX + "done"


@dataclass(frozen=True, slots=True)
class Parcel:
    """What the waiting room needs of a kept event (its value stays in Kafka)."""

    keys: tuple[Key, ...]
    since_ms: int
    kind: str
    has_user: bool
    message_id: str | None


@dataclass(frozen=True, slots=True)
class Done:
    """Kept events that went: their offsets in this partition."""

    key: Key
    offsets: tuple[int, ...]


def keep(
    record: Record,
    keys: Sequence[Key],
    *,
    since_ms: int,
    kind: str,
    has_user: bool,
    message_id: str | None,
) -> tuple[bytes, bytes, Headers]:
    """The waiting record of ``record``: its key, value and headers."""
    headers: list[tuple[str, bytes | None]] = [
        (KEYS, ",".join(k.hex() for k in keys).encode()),
        (SINCE, str(since_ms).encode()),
        (KIND, kind.encode()),
        (USER, b"1" if has_user else b"0"),
        (TOPIC, record.topic.encode()),
        (PARTITION, str(record.partition).encode()),
        (OFFSET, str(record.offset).encode()),
    ]
    if message_id is not None:
        headers.append((MESSAGE_ID, message_id.encode()))
    if record.timestamp_ms is not None:
        headers.append((TIMESTAMP, str(record.timestamp_ms).encode()))
    if record.key is not None:
        headers.append((SOURCE_KEY, record.key))
    headers += [(name, value) for name, value in record.headers if not name.startswith(PREFIX)]
    return keys[0].hex().encode(), record.value or b"", tuple(headers)


def done(key: Key, offsets: Sequence[int]) -> tuple[bytes, bytes, Headers]:
    return key.hex().encode(), b"", ((DONE, ",".join(map(str, offsets)).encode()),)


def read(record: Record) -> Parcel | Done | None:
    """A waiting record's meaning; None for one this version cannot read (skipped)."""
    fields = {name: value for name, value in record.headers if name.startswith(PREFIX)}
    try:
        if DONE in fields:
            key = bytes.fromhex((record.key or b"").decode())
            listed = (fields[DONE] or b"").decode()
            return Done(key, tuple(int(o) for o in listed.split(",") if o))
        keys = tuple(bytes.fromhex(k) for k in _text(fields, KEYS).split(",") if k)
        if not keys:
            return None
        mid = fields.get(MESSAGE_ID)
        return Parcel(
            keys,
            int(_text(fields, SINCE)),
            _text(fields, KIND),
            fields.get(USER) == b"1",
            mid.decode("utf-8", "replace") if mid else None,
        )
    except (KeyError, ValueError, UnicodeDecodeError):
        return None


def source_record(record: Record) -> Record:
    """The event as its source topic held it, for dead letters and translation."""
    fields = {name: value for name, value in record.headers if name.startswith(PREFIX)}
    stamp = fields.get(TIMESTAMP)
    return Record(
        _text(fields, TOPIC),
        int(_text(fields, PARTITION)),
        int(_text(fields, OFFSET)),
        fields.get(SOURCE_KEY),
        record.value,
        tuple((n, v) for n, v in record.headers if not n.startswith(PREFIX)),
        int(stamp) if stamp else None,
    )


def _text(fields: dict[str, bytes | None], name: str) -> str:
    value = fields[name]
    if value is None:
        raise KeyError(name)
    return value.decode()
