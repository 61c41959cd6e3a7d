"""Plain-JSON views of translation results: the dry-run output and the golden files' format."""

from __future__ import annotations

from typing import Any

from translate.errors import TranslationError
from translate.model import Outcome, Request, Translation
from translate.plan import _thaw


def request_json(request: Request) -> dict[str, Any]:
    """``{"step", "method", "path", "body"}`` plus, when present, how the request depends on
    earlier answers (``inject``), whether a known person makes it unnecessary (``skip_if_known``,
    with the fields the known record must hold, ``known_needs``) and which kind of person it is
    for (``for``)."""
    out: dict[str, Any] = {
        "step": request.step.value,
        "method": request.method,
        "path": request.path,
        "body": _thaw(request.body),
    }
    if request.inject:
        out["inject"] = [
            {
                "into": inject.describe(),
                "from": [source.describe() for source in inject.sources],
                **({} if inject.required else {"required": False}),
            }
            for inject in request.inject
        ]
    if request.skip_if_known:
        out["skip_if_known"] = True
    if request.known_needs:
        out["known_needs"] = list(request.known_needs)
    if request.for_kind is not None:
        kind, when_unknown = request.for_kind
        out["for"] = {"person": kind, "when_unknown": when_unknown}
    return out


def translation_json(translation: Translation) -> dict[str, Any]:
    """The dry run's view. Without an email the person comes from the identity map: an event of
    an anonymous visitor waits (``"outcome": "wait"``) until an identify or an alias names them,
    and ``"person"`` says what a userId-only event depends on."""
    names = translation.names
    outcome = translation.outcome.value
    person = None
    if translation.outcome is Outcome.DELIVER and names.email is None and names.keys:
        if names.anonymous_only:
            outcome = "wait"
            person = (
                "not known yet: waits (no call) until an identify or alias names this"
                " anonymousId, then goes out on that person"
            )
        else:
            person = (
                "the person the deployment knows by this userId (from an earlier identify);"
                " until it knows them the event waits, no call"
            )
    out: dict[str, Any] = {
        "outcome": outcome,
        "type": translation.type,
        "messageId": translation.message_id,
    }
    if names.describe():
        out["identities"] = names.describe()
    if person is not None:
        out["person"] = person
    if translation.requests:
        out["requests"] = [request_json(request) for request in translation.requests]
    if translation.ignored:
        out["ignored"] = list(translation.ignored)
    if translation.notices:
        out["notices"] = [
            {"code": n.code, "field": n.field, "detail": n.detail} for n in translation.notices
        ]
    return out


def error_json(error: TranslationError) -> dict[str, Any]:
    return {"outcome": "error", "reason": error.reason.value, "detail": error.detail}
