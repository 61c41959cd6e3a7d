"""Carrying out a translation's dependencies, still without I/O.

The service sends requests in order. Before each, :func:`needless` says whether it is to be sent
at all, and :func:`materialize` fills in what it needs from earlier records and from the account
settings read at start-up (``lookups``); after each, :func:`step_record` turns the answer into
the record later requests refer to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeAlias
from urllib.parse import quote

from translate.errors import Reason, TranslationError
from translate.link import Link, as_body, merge, read_links
from translate.model import (
    JSON,
    FromLookup,
    FromStep,
    Inject,
    LookupKind,
    MergeAccounts,
    Origin,
    Request,
    Step,
)

Records: TypeAlias = Mapping[Step, Mapping[str, object]]
Lookups: TypeAlias = Mapping[tuple[LookupKind, str], int]
"""Resolved account settings: ``(kind, name) → id``; the default owner's name is ``""``."""

_PLACEHOLDER = re.compile(r"\{(\w+)\.(\w+)\}")
_TARGETABLE = {"lead": "Lead"}
_PERSON, _LINK, _ACCOUNT = Step.PERSON, Step.LINK, Step.ACCOUNT


def step_record(request: Request, answer: object) -> Mapping[str, object] | None:
    """The record inside a Freshsales answer (``{"contact": {…}}`` → ``{…}``), or None when the
    answer has no such record. A person's record also says which ``targetable_type`` it is, and
    holds its accounts as links (``translate.link``) when the answer listed them readably."""
    if not isinstance(answer, Mapping):
        return None
    record = answer.get(request.envelope)
    if not isinstance(record, Mapping):
        return None
    if request.step is _PERSON or request.step is _LINK:
        person = {**record, "targetable_type": _TARGETABLE.get(request.envelope, "Contact")}
        if "sales_accounts" in person:
            links = read_links(person.pop("sales_accounts"))
            if links is not None:
                person["sales_accounts"] = links
        return person
    return record


class Skip(StrEnum):
    """Why a request is not sent."""

    KNOWN = "known"
    """It only finds the person, and the identity map already knows them."""
    NOT_FOR_PERSON = "not_for_person"
    """It is meant for another kind of person (a Classic lead, not a contact, or the reverse)."""
    IN_PLACE = "in_place"
    """The link it would write is already there."""


def needless(request: Request, records: Records) -> Skip | None:
    """Whether the request is not to be sent, given what is known when it is due."""
    person = records.get(_PERSON)
    if request.for_kind is not None:
        kind = person.get("targetable_type") if person is not None else None
        applies = request.for_kind.when_unknown if kind is None else kind == request.for_kind.kind
        if not applies:
            return Skip.NOT_FOR_PERSON
    known = person is not None and all(person.get(n) is not None for n in request.known_needs)
    if request.skip_if_known and known:
        return Skip.KNOWN
    for inject in request.inject:
        for source in inject.sources:
            if isinstance(source, MergeAccounts):
                merged = _merged(source, records)
                if merged is not None and not merged[1]:
                    return Skip.IN_PLACE
    return None


def materialize(request: Request, records: Records, lookups: Lookups) -> tuple[str, dict[str, Any]]:
    """The request's final path and a fresh, mutable body with every injection applied.

    Raises :class:`TranslationError` (``unknown_person`` or ``unresolved_reference``) when a
    required value is not available.
    """
    body: dict[str, Any] = _thaw(request.body)
    for inject in request.inject:
        _apply(body, inject, records, lookups)
    return _path(request.path, records), body


def _apply(body: dict[str, Any], inject: Inject, records: Records, lookups: Lookups) -> None:
    value = _resolve(inject.sources, records, lookups)
    parent: Any = body
    for key in inject.target[:-1]:
        parent = parent[key]
    if value is not None:
        parent[inject.target[-1]] = value
    elif inject.required:
        wanted = " or ".join(source.describe() for source in inject.sources)
        raise TranslationError(inject.missing, f"{inject.describe()} needs {wanted}")
    else:
        del parent[inject.target[-1]]


def _resolve(sources: tuple[Origin, ...], records: Records, lookups: Lookups) -> object:
    for source in sources:
        value: object
        if isinstance(source, FromStep):
            value = records.get(source.step, {}).get(source.field)
        elif isinstance(source, FromLookup):
            value = lookups.get((source.kind, source.name))
        else:
            merged = _merged(source, records)
            value = None if merged is None else as_body(merged[0])
        if value is not None:
            return value
    return None


def _merged(source: MergeAccounts, records: Records) -> tuple[tuple[Link, ...], bool] | None:
    """The person's links with the account added, and whether that changes them; None while
    either is unknown."""
    person = records.get(_PERSON)
    current = read_links(person.get("sales_accounts")) if person is not None else None
    account = records.get(_ACCOUNT, {}).get("id")
    if current is None or not isinstance(account, int) or isinstance(account, bool):
        return None
    return merge(current, account, primary=source.primary)


def _path(template: str, records: Records) -> str:
    def fill(match: re.Match[str]) -> str:
        step = Step(match.group(1))
        value = records.get(step, {}).get(match.group(2))
        if not isinstance(value, int | str) or isinstance(value, bool):
            reason = Reason.UNKNOWN_PERSON if step is Step.PERSON else Reason.UNRESOLVED_REFERENCE
            raise TranslationError(reason, f"path {template} needs {match.group(0)[1:-1]}")
        return quote(str(value), safe="")

    return _PLACEHOLDER.sub(fill, template)


def _thaw(value: JSON) -> Any:
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value
