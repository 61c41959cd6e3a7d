"""track, page and screen → a sales activity on the person (and, for mapped events, a lifecycle
stage)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache

import orjson

from translate.errors import Reason, TranslationError
from translate.event import (
    Event,
    context_traits,
    event_time,
    find_email,
    identifier,
    message_id,
    names,
    obj,
)
from translate.identify import stage_into_contact, wants_contact
from translate.model import (
    JSON,
    Flavor,
    FromLookup,
    FromStep,
    Inject,
    LookupKind,
    Notice,
    Options,
    Outcome,
    Request,
    Step,
    Translation,
    frozen,
)

# Enum attribute access costs about 0.25 µs on CPython 3.11 and these run for every event,
# so the hot paths use module-level aliases.
_CLASSIC, _SUITE, _DELIVER = Flavor.CLASSIC, Flavor.SUITE, Outcome.DELIVER
_PERSON, _ACTIVITY = Step.PERSON, Step.ACTIVITY

MAX_NOTES = 10_000
"""Characters of notes sent at most: a runaway property must not cost the event its delivery."""

_PAGE_FIRST = ("url", "path", "referrer", "title", "search")
_CONTACT_UPSERT = "contacts/upsert?include=sales_accounts"


def translate_track(event: Event, options: Options, fallback_time: datetime | None) -> Translation:
    name = event.get("event")
    if not isinstance(name, str) or not name.strip():
        raise TranslationError(Reason.INVALID_EVENT, "track needs an event name")
    properties = obj(event, "properties")
    stage = options.stage_map.get(name.strip().casefold())
    return _activity(
        event,
        options,
        fallback_time,
        "track",
        name.strip(),
        options.track_activity_type,
        properties.items(),
        stage,
    )


def translate_page(event: Event, options: Options, fallback_time: datetime | None) -> Translation:
    if not options.deliver_pages:
        return Translation(Outcome.DISABLED, "page", message_id(event))
    properties = obj(event, "properties")
    label = _first_text(event.get("name"), properties.get("title"), properties.get("url"))
    ordered = [(k, properties[k]) for k in _PAGE_FIRST if k in properties]
    ordered += [(k, v) for k, v in properties.items() if k not in _PAGE_FIRST]
    return _activity(
        event,
        options,
        fallback_time,
        "page",
        f"Viewed {label or 'a page'}",
        options.page_activity_type,
        ordered,
        None,
    )


def translate_screen(event: Event, options: Options, fallback_time: datetime | None) -> Translation:
    """The mobile page view: titled by the screen's name, with its own activity type if set."""
    properties = obj(event, "properties")
    name = _first_text(event.get("name"))
    return _activity(
        event,
        options,
        fallback_time,
        "screen",
        f"Viewed {name} screen" if name else "Viewed screen",
        options.screen_activity_type or options.page_activity_type,
        properties.items(),
        None,
    )


def _activity(
    event: Event,
    options: Options,
    fallback_time: datetime | None,
    kind: str,
    title: str,
    activity_type: str,
    properties: Iterable[tuple[str, object]],
    stage: str | None,
) -> Translation:
    user_id = identifier(event, "userId")
    traits = context_traits(event)
    email, _ = find_email(traits.get("email"), user_id=user_id)
    who = names(event, email, user_id)
    if not who.keys:
        raise TranslationError(
            Reason.UNKNOWN_PERSON,
            f"{kind} has no userId, anonymousId or email to find the person by",
        )
    moment = event_time(event, fallback_time)
    mid = message_id(event)
    notes, truncated = render_notes(properties, mid)
    notices: list[Notice] = []
    if truncated:
        notices.append(
            Notice("notes_truncated", "properties", f"notes cut to {MAX_NOTES} characters")
        )
    requests: list[Request] = []
    if email is not None:
        lead = options.flavor is _CLASSIC and not wants_contact(traits)
        requests.append(resolve_person(email, lead=lead))
    requests.append(_sales_activity(title, activity_type, moment, notes))
    if stage is not None:
        if options.flavor is _SUITE:
            requests.append(lifecycle_request(stage))
        else:
            notices.append(
                Notice("lifecycle_not_supported", "event", "lifecycle stages are a Suite feature")
            )
    return Translation(
        outcome=_DELIVER,
        type=kind,
        message_id=mid,
        requests=tuple(requests),
        names=who,
        notices=tuple(notices),
    )


def resolve_person(email: str, *, lead: bool) -> Request:
    """The cheapest call that yields the person's id: an upsert carrying only the email. Skipped
    when the identity map already knows the person. A Classic person is a lead unless the
    context says it is a contact, as for identify. A contact's answer lists its accounts, so that
    the identity map knows them for a later group."""
    envelope, path = ("lead", "leads/upsert") if lead else ("contact", _CONTACT_UPSERT)
    body = frozen(
        {"unique_identifier": frozen({"emails": email}), envelope: frozen({"emails": email})}
    )
    return Request(_PERSON, "POST", path, envelope, body, skip_if_known=True)


def _sales_activity(title: str, activity_type: str, moment: str, notes: str) -> Request:
    record = frozen(
        {
            "title": title,
            "sales_activity_type_id": None,
            "start_date": moment,
            "end_date": moment,
            "owner_id": None,
            "targetable_type": None,
            "targetable_id": None,
            "notes": notes,
        }
    )
    return activity_request(record, activity_type)


def activity_request(record: Mapping[str, JSON], activity_type: str) -> Request:
    """``POST sales_activities`` of ``record``, on the person, of the named activity type."""
    body = frozen({"sales_activity": record})
    return Request(
        _ACTIVITY,
        "POST",
        "sales_activities",
        "sales_activity",
        body,
        _activity_inject(activity_type),
    )


@lru_cache(maxsize=64)
def _activity_inject(activity_type: str) -> tuple[Inject, ...]:
    """What an activity takes from its person and from the account settings. Cached: the type
    name comes from configuration, so a process sees one or two of them."""
    return (
        Inject(
            ("sales_activity", "sales_activity_type_id"),
            (FromLookup(LookupKind.SALES_ACTIVITY_TYPE, activity_type),),
        ),
        Inject(
            ("sales_activity", "owner_id"),
            (FromStep(Step.PERSON, "owner_id"), FromLookup(LookupKind.DEFAULT_OWNER)),
        ),
        Inject(
            ("sales_activity", "targetable_type"),
            (FromStep(Step.PERSON, "targetable_type"),),
            missing=Reason.UNKNOWN_PERSON,
        ),
        Inject(
            ("sales_activity", "targetable_id"),
            (FromStep(Step.PERSON, "id"),),
            missing=Reason.UNKNOWN_PERSON,
        ),
    )


def lifecycle_request(stage: str) -> Request:
    """``PUT`` the person's lifecycle stage to the named one."""
    body = frozen({"contact": frozen({"lifecycle_stage_id": None})})
    return Request(
        Step.LIFECYCLE, "PUT", "contacts/{person.id}", "contact", body, (stage_into_contact(stage),)
    )


def _first_text(*candidates: object) -> str | None:
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def render_notes(properties: Iterable[tuple[str, object]], mid: str | None) -> tuple[str, bool]:
    """One ``key: value`` line per property (nested values as compact JSON), then the messageId.
    Returns the text and whether the properties had to be cut to fit :data:`MAX_NOTES`."""
    text = "\n".join(
        [f"{key}: {value if type(value) is str else _render(value)}" for key, value in properties]
    )
    tail = "" if mid is None else f"messageId: {mid}"
    room = MAX_NOTES - len(tail) - 1  # the messageId line is kept whole: dedupe audits need it
    truncated = len(text) > room
    if truncated:
        text = text[: max(room - 1, 0)] + "…"
    return "\n".join(part for part in (text, tail) if part), truncated


def _render(value: object) -> str:
    """A property value that is not a plain string, as compact JSON."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: only non-JSON values (e.g. > 64-bit ints)
        return "<value not representable as JSON>"
