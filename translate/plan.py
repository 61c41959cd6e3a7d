"""Carrying out a translation's dependencies, still without I/O.

The service sends requests in order. After each, :func:`step_record` turns the answer into the
record later requests refer to; before each, :func:`materialize` fills in what the request needs
from those records and from the account settings read at start-up (``lookups``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeAlias
from urllib.parse import quote

from translate.errors import Reason, TranslationError
from translate.model import JSON, FromStep, Inject, LookupKind, Request, Source, Step

Records: TypeAlias = Mapping[Step, Mapping[str, object]]
Lookups: TypeAlias = Mapping[tuple[LookupKind, str], int]
"""Resolved account settings: ``(kind, name) → id``; the default owner's name is ``""``."""

_PLACEHOLDER = re.compile(r"\{(\w+)\.(\w+)\}")
_TARGETABLE = {"lead": "Lead"}


def step_record(request: Request, answer: object) -> Mapping[str, object] | None:
    """The record inside a Freshsales answer (``{"contact": {…}}`` → ``{…}``), or None when the
    answer has no such record. A person's record also says which ``targetable_type`` it is."""
    if not isinstance(answer, Mapping):
        return None
    record = answer.get(request.envelope)
    if not isinstance(record, Mapping):
        return None
    if request.step is Step.PERSON:
        kind = _TARGETABLE.get(request.envelope, "Contact")
        return {**record, "targetable_type": kind}
    return record


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


def _resolve(sources: tuple[Source, ...], records: Records, lookups: Lookups) -> object:
    for source in sources:
        if isinstance(source, FromStep):
            value = records.get(source.step, {}).get(source.field)
        else:
            value = lookups.get((source.kind, source.name))
        if value is not None:
            return value
    return None


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
