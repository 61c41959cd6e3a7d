"""Checks of one value against one field type; each returns the cleaned value or raises Invalid.

Messages name the field by its label, as Rails validation messages do ("Name can't be blank").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sandbox.simulator.catalog import Field

_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_DIGITS: Final = re.compile(r"[1-9]\d{0,18}\Z")


@dataclass(frozen=True)
class Email:
    value: str
    is_primary: bool
    label: str | None = None


class Invalid(Exception):
    """One field's one message."""


def parse_id(value: object) -> int | None:
    """A record or selector id: a positive int, or its decimal digits as a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        return int(value)
    return None


def is_email(value: object) -> bool:
    return isinstance(value, str) and _EMAIL.match(value) is not None


def check_id(field: Field, value: object) -> int:
    ident = parse_id(value)
    if ident is None:
        raise Invalid(f"{field.label} must be a numeric id")
    return ident


def as_text(field: Field, value: object) -> str:
    # Numbers become text, as a Rails attribute of type string casts them.
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise Invalid(f"{field.label} must be text")


def as_email(field: Field, value: object) -> str:
    if not is_email(value):
        raise Invalid(f"{field.label} is not a valid email")
    return str(value)


def as_number(field: Field, value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"{field.label} must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(f"{field.label} must be a number")
    return value


def as_checkbox(field: Field, value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{field.label} must be true or false")
    return value


def as_date(field: Field, value: object) -> str:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value).date().isoformat()
        except ValueError:
            pass
    raise Invalid(f"{field.label} is not a valid date")


def as_datetime(field: Field, value: object) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    raise Invalid(f"{field.label} must be an ISO 8601 date-time with a UTC offset")


def as_choice(field: Field, value: object) -> str:
    if value not in field.choices:
        raise Invalid(f"{field.label} must be one of: {', '.join(field.choices)}")
    return str(value)


def as_emails(field: Field, value: object) -> list[Email]:
    shape = f"{field.label} must be an email address or a list of them"
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise Invalid(shape)
    emails: list[Email] = []
    for item in items:
        if isinstance(item, Mapping):
            if item.get("_destroy") is True:
                continue
            address, primary, label = (
                item.get("value"),
                item.get("is_primary", False),
                item.get("label"),
            )
            if not isinstance(primary, bool) or not (label is None or isinstance(label, str)):
                raise Invalid(shape)
        else:
            address, primary, label = item, False, None
        if not is_email(address):
            raise Invalid(f"{field.label} {address!r} is not a valid email")
        emails.append(Email(str(address), primary, label))
    if sum(e.is_primary for e in emails) > 1:
        raise Invalid(f"{field.label} can have only one primary email")
    if emails and not any(e.is_primary for e in emails):
        emails[0] = Email(emails[0].value, True, emails[0].label)
    return emails


def as_tags(field: Field, value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        return list(value)
    raise Invalid(f"{field.label} must be a list of text")
