"""The entry point: one Segment event in, one :class:`Translation` out, or a TranslationError."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from translate.activity import translate_page, translate_screen, translate_track
from translate.errors import Reason, TranslationError
from translate.event import (
    Event,
    anonymous_id,
    context_traits,
    decode,
    find_email,
    identifier,
    message_id,
    obj,
)
from translate.group import translate_group
from translate.identify import translate_identify
from translate.identities import Names, usable
from translate.model import Notice, Options, Outcome, Translation

DEFAULT_OPTIONS = Options()
MAX_TYPE = 64
"""An unsupported type is reported by name; a longer name is cut (it ends up in metric labels)."""


def translate_event(
    event: object, options: Options = DEFAULT_OPTIONS, *, fallback_time: datetime | None = None
) -> Translation:
    """Translate a decoded event.

    Raises :class:`TranslationError` and nothing else, whatever ``event`` is. ``fallback_time``
    dates a track/page/screen that carries no timestamp of its own. An event the filters keep
    out is ``filtered`` before anything else is read of it: it costs nothing and is never
    refused.
    """
    if type(event) is not dict and not isinstance(event, Mapping):
        raise TranslationError(Reason.INVALID_EVENT, f"not a JSON object: {type(event).__name__}")
    kind = event.get("type")
    if kind is None:
        raise TranslationError(Reason.INVALID_EVENT, "no type")
    if not isinstance(kind, str) or not kind.strip():
        raise TranslationError(Reason.INVALID_EVENT, "type must be a non-empty string")
    normal = kind.strip().casefold()
    # Identity operations, not events for the CRM: the event filters do not apply (a deletion
    # request in particular is a legal obligation, never something to filter out).
    if normal == "alias":
        return translate_alias(event)
    if normal == "delete":
        return translate_delete(event)
    if not options.events.admits(normal, event):
        return Translation(Outcome.FILTERED, normal[:MAX_TYPE], message_id(event))
    if normal == "identify":
        return translate_identify(event, options)
    if normal == "track":
        return translate_track(event, options, fallback_time)
    if normal == "page":
        return translate_page(event, options, fallback_time)
    if normal == "screen":
        return translate_screen(event, options, fallback_time)
    if normal == "group":
        return translate_group(event, options)
    return Translation(Outcome.UNSUPPORTED, normal[:MAX_TYPE], message_id(event))


def translate_delete(event: Event) -> Translation:
    """Segment's deletion request: ``{"type": "delete", "userId": …}``, an anonymousId or
    ``traits.email`` standing in for the userId (MAPPING.md, "Deletion")."""
    user_id = usable(identifier(event, "userId"))
    traits = obj(event, "traits")
    email, offered = find_email(
        traits.get("email"), context_traits(event).get("email"), user_id=None
    )
    names = Names(email, user_id, anonymous_id(event))
    if email is None and offered and not names.keys:
        # Alone, an unreadable email names nobody; beside a userId or anonymousId it is left
        # out, so that the request is still carried out (their person's emails go with them).
        raise TranslationError(Reason.INVALID_EMAIL, "traits.email is not an address")
    if not names.keys:
        raise TranslationError(
            Reason.INVALID_EVENT, "delete needs a userId, an anonymousId or traits.email"
        )
    return Translation(Outcome.FORGET, "delete", message_id(event), names=names)


def translate_alias(event: Event) -> Translation:
    """alias: ``previousId`` is another id of ``userId``'s person. Nothing is sent: the identity
    map links the two (MAPPING.md "alias"). A junk id on either side links nothing."""
    user_id, previous_id = identifier(event, "userId"), identifier(event, "previousId")
    if user_id is None or previous_id is None:
        missing = " and ".join(
            name for name, v in (("userId", user_id), ("previousId", previous_id)) if v is None
        )
        raise TranslationError(Reason.INVALID_EVENT, f"alias needs {missing}")
    user, previous = usable(user_id), usable(previous_id)
    mid = message_id(event)
    if user is None or previous is None or user == previous:
        field = "userId" if user is None else "previousId"
        detail = (
            "previousId is the userId: nothing to link"
            if user is not None and user == previous
            else f"{field} is not an identity of anyone (a placeholder such as 'anonymous')"
        )
        return Translation(
            Outcome.UNLINKABLE, "alias", mid, notices=(Notice("junk_id", field, detail),)
        )
    return Translation(Outcome.LINK, "alias", mid, names=Names(user_id=user, previous_id=previous))


def translate_bytes(
    raw: bytes | str, options: Options = DEFAULT_OPTIONS, *, fallback_time: datetime | None = None
) -> Translation:
    """Decode a Kafka message value and translate it; the same single error type on failure."""
    return translate_event(decode(raw), options, fallback_time=fallback_time)
