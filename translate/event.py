"""Reading a Segment event: decoding, typed field access, identities, emails and timestamps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson

from translate.errors import Reason, TranslationError
from translate.identities import Names, usable
from translate.model import EMPTY

Event = Mapping[str, object]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+\Z")
_MAX_EMAIL = 254  # RFC 5321 path limit: anything longer is not an address Freshsales will keep
_TIMESTAMP_KEYS = ("timestamp", "originalTimestamp", "receivedAt", "sentAt")
_INT_LIMIT = 2**64


def decode(raw: bytes | str) -> Event:
    """Parse one message value. Anything but a JSON object is an ``invalid_event``."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TranslationError(Reason.INVALID_EVENT, f"not JSON: {_where(exc, raw)}") from None
    if not isinstance(value, dict):
        raise TranslationError(Reason.INVALID_EVENT, f"not a JSON object: {type(value).__name__}")
    return value


def _where(error: orjson.JSONDecodeError, raw: bytes | str) -> str:
    """What is wrong and where, within the event itself. orjson's own "line, column" counts the
    newline that ends a line of input: a one-line event cut short was "line 2 column 1"."""
    if isinstance(raw, bytes):
        try:
            raw.decode()
        except UnicodeDecodeError as bad:  # orjson says "char 0", wherever the bad byte is
            return f"not valid UTF-8 at byte {bad.start + 1} of {len(raw)}"
    length = len(error.doc.rstrip())
    if error.pos >= length:
        return f"{error.msg} after character {length} of {length}"
    return f"{error.msg} at character {error.pos + 1} of {length}"


def obj(event: Mapping[str, object], key: str, where: str = "") -> Mapping[str, object]:
    """An optional object field: absent or null reads as empty; any other type is invalid."""
    value = event.get(key)
    if value is None:
        return EMPTY
    if type(value) is dict or isinstance(value, Mapping):  # decoded JSON: skip the ABC check
        return value
    raise TranslationError(Reason.INVALID_EVENT, f"{where}{key} must be an object")


def context_traits(event: Event) -> Mapping[str, object]:
    return obj(obj(event, "context"), "traits", "context.")


def identifier(event: Event, key: str) -> str | None:
    """userId / anonymousId: a non-blank string (or an integer, as some libraries send)."""
    value = event.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _INT_LIMIT:
        return str(value)
    raise TranslationError(Reason.INVALID_EVENT, f"{key} must be a string")


def anonymous_id(event: Event) -> str | None:
    """The anonymousId when it can name someone. A malformed one reads as absent: it is the
    browser's cookie, metadata to most events, and must not cost one its delivery."""
    try:
        return usable(identifier(event, "anonymousId"))
    except TranslationError:
        return None


def names(event: Event, email: str | None, user_id: str | None) -> Names:
    """The identities of ``event``: ``email`` and ``user_id`` as the caller found them (a junk
    userId reads as absent), and its anonymousId."""
    return Names(email, usable(user_id), anonymous_id(event))


MAX_MESSAGE_ID = 200
"""Segment's ids are ≤ 100 characters; a longer one is treated as absent, not carried around."""


def message_id(event: Event) -> str | None:
    """The messageId, when usable. It is metadata: a malformed one never rejects the event."""
    value = event.get("messageId")
    if isinstance(value, str) and 0 < len(value.strip()) <= MAX_MESSAGE_ID:
        return value.strip()
    return None


def ordering_key(event: Event) -> str:
    """Events with one key are delivered in order: userId, else anonymousId, else messageId."""
    for key in ("userId", "anonymousId", "messageId"):
        value = event.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _INT_LIMIT:
            return str(value)
    return ""


def is_email(value: str) -> bool:
    return len(value) <= _MAX_EMAIL and _EMAIL.match(value) is not None


def find_email(*candidates: object, user_id: str | None) -> tuple[str | None, bool]:
    """The first email field that holds an address (stripped), else the userId when it is one;
    and whether any email field was filled at all (to tell ``missing_email`` from
    ``invalid_email``: a userId that is not an address offers nothing)."""
    offered = False
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            text = candidate.strip()
            if is_email(text):
                return text, True
            offered = True
    if user_id is not None and is_email(user_id):
        return user_id, offered
    return None, offered


def event_time(event: Event, fallback: datetime | None) -> str:
    """The event's time as ISO 8601 with an offset, from the first parseable Segment timestamp.

    ``fallback`` (the Kafka record time, in the service) stands in when the event carries none;
    translation never reads a clock.
    """
    for key in _TIMESTAMP_KEYS:
        value = event.get(key)
        if isinstance(value, str):
            try:
                return iso(datetime.fromisoformat(value.strip()))
            except ValueError:
                continue
    if fallback is None:
        raise TranslationError(Reason.MISSING_TIMESTAMP, "no parseable timestamp in the event")
    return iso(fallback)


def iso(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.isoformat(timespec="seconds")


def infer_type(event: Event) -> str | None:
    """The Segment method a type-less example was written for, as the Segment docs show them
    (the call, not the payload, names the method): ``event`` → track, ``traits`` → identify,
    ``name`` or ``properties`` → page. The service never infers; only the dry run offers it."""
    if "type" in event:
        return None
    if "event" in event:
        return "track"
    if "traits" in event:
        return "identify"
    if "name" in event or "properties" in event:
        return "page"
    return None
