"""The entry point: one Segment event in, one :class:`Translation` out, or a TranslationError."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from translate.activity import translate_page, translate_screen, translate_track
from translate.errors import Reason, TranslationError
from translate.event import decode, message_id
from translate.group import translate_group
from translate.identify import translate_identify
from translate.model import Options, Outcome, Translation

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


def translate_bytes(
    raw: bytes | str, options: Options = DEFAULT_OPTIONS, *, fallback_time: datetime | None = None
) -> Translation:
    """Decode a Kafka message value and translate it; the same single error type on failure."""
    return translate_event(decode(raw), options, fallback_time=fallback_time)
