"""The project's exception tree, rooted here because `translate` is the one package with no I/O.

Every failure the service can meet is a :class:`DestinationError`. Each class says, through
``retriable``, whether trying the same thing again later can succeed, and through ``fatal``,
whether the failure concerns the whole service rather than one event: the delivery loop needs no
other fact to choose between retrying, dead-lettering and stopping. Foreign exceptions (aiohttp,
aiokafka, orjson) are converted into this tree at one boundary each; nothing else is raised past it.

    DestinationError                  retriable?  fatal?
    ├── TranslationError              no          no    the event itself is wrong: dead-letter it
    ├── CatalogError                  no          no    a field catalog given as input is malformed
    ├── ConfigurationError            no          yes   settings that cannot work (domain, key…)
    ├── BrokerError                   yes         no    Kafka did not take a dead letter or commit
    └── FreshsalesError                                 an HTTP call did not succeed
        ├── TransientError            yes         no    5xx, timeout, connection error, bad answer
        │   └── RateLimited           yes         no    429, with the server's Retry-After
        ├── RejectedError             no          no    400/404/422…: this request is wrong
        ├── AccessDenied              no          yes   401/403: the key is wrong or lacks rights
        └── Misdirected               no          yes   a redirect: the base URL is wrong
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


class ConfigurationError(DestinationError):
    """A setting cannot work (the message says which and why); raised before consuming anything."""

    fatal: ClassVar[bool] = True


class BrokerError(DestinationError):
    """Kafka did not accept a write (a dead letter); it is tried again, the offset stays open."""

    retriable: ClassVar[bool] = True


class OversizedRecord(BrokerError):
    """Kafka refused a record as too large: sending the same record again cannot help."""

    retriable: ClassVar[bool] = False


class FreshsalesError(DestinationError):
    """A Freshsales call failed. ``status`` is None when no HTTP answer arrived at all.

    ``messages`` are Freshsales' own error messages (``errors.message``), or an excerpt of an
    answer that was not in that shape; dead letters and logs carry them.
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        messages: tuple[str, ...] = (),
        endpoint: str = "",
    ) -> None:
        prefix = f"{endpoint}: " if endpoint else ""
        suffix = f" ({'; '.join(messages)})" if messages else ""
        super().__init__(f"{prefix}{detail}{suffix}")
        self.detail = detail
        self.status = status
        self.messages = messages
        self.endpoint = endpoint


class TransientError(FreshsalesError):
    """Freshsales could not answer properly now (5xx, timeout, connection); later may succeed."""

    retriable: ClassVar[bool] = True


class RateLimited(TransientError):
    """429: the account's quota is spent. ``retry_after``: the server's wait in seconds, if any."""

    def __init__(
        self,
        detail: str,
        *,
        retry_after: float | None,
        status: int | None = 429,
        messages: tuple[str, ...] = (),
        endpoint: str = "",
    ) -> None:
        super().__init__(detail, status=status, messages=messages, endpoint=endpoint)
        self.retry_after = retry_after


class RejectedError(FreshsalesError):
    """Freshsales refused this request as wrong (400/404/422…): sending it again cannot help."""


class AccessDenied(FreshsalesError):
    """401/403: every call would fail alike, so the service stops instead of dead-lettering."""

    fatal: ClassVar[bool] = True


class Misdirected(FreshsalesError):
    """The API answered with a redirect or another non-API status: the base URL points elsewhere."""

    fatal: ClassVar[bool] = True
