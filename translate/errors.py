"""The root of the product's exception tree, and the errors of translation.

Rooted here because `translate` is the one package with no I/O: the service's own errors
(``consumer.errors``) subclass :class:`DestinationError` too, so one ``except DestinationError``
catches everything this product raises on purpose. Each class says, through ``retriable``,
whether trying the same thing again later can succeed, and through ``fatal``, whether the
failure concerns the whole service rather than one event.

    DestinationError                  retriable?  fatal?
    ├── TranslationError              no          no    the event itself is wrong: dead-letter it
    ├── CatalogError                  no          no    a field catalog given as input is malformed
    └── (the service's errors: consumer.errors)
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class DestinationError(Exception):
    """Root of every error this product raises on purpose."""

    retriable: ClassVar[bool] = False
    fatal: ClassVar[bool] = False


class Reason(StrEnum):
    """Stable reason codes: dead-letter headers, metrics labels and logs use these strings."""

    INVALID_EVENT = "invalid_event"
    """Not JSON, not an object, no `type`, or a field of the wrong JSON type."""
    MISSING_USER_ID = "missing_user_id"
    """identify without a usable `userId`."""
    MISSING_EMAIL = "missing_email"
    """identify with no email in traits, context.traits or an email-shaped userId."""
    INVALID_EMAIL = "invalid_email"
    """An email was given but none of the candidates is an email address."""
    MISSING_TIMESTAMP = "missing_timestamp"
    """track/page/screen with no parseable timestamp and no fallback time supplied."""
    UNKNOWN_PERSON = "unknown_person"
    """track/page/screen/group for a person with no email and no id learned from an earlier
    identify."""
    MISSING_GROUP_NAME = "missing_group_name"
    """group without a usable `traits.name`: the account is upserted by name."""
    UNRESOLVED_REFERENCE = "unresolved_reference"
    """A request needs a value that is absent: an account setting (activity type, lifecycle
    stage, default owner) or a field of an earlier step's answer."""
    REJECTED = "rejected"
    """Freshsales refused a request as wrong (400/404/422…); its messages travel with the letter."""
    RETRIES_EXHAUSTED = "retries_exhausted"
    """Transient failures (5xx, 429, timeouts) lasted longer than the retry window."""
    FORGET_REFUSED = "forget_refused"
    """A deletion request Freshsales refused to carry out (403: an admin bars the key's user
    from forgetting records); its message travels with the letter."""


class TranslationError(DestinationError):
    """The event cannot become Freshsales requests. Never retriable: retrying gives the same answer.

    ``reason`` is the stable code; ``detail`` is for people and may change between releases.
    """

    retriable: ClassVar[bool] = False

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class CatalogError(DestinationError):
    """A field catalog value is not in the shape of Freshsales' ``settings/*/fields`` answers."""

    retriable: ClassVar[bool] = False
