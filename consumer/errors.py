"""The service's own errors, under the root every error of this product shares.

``translate.errors`` holds the root, ``DestinationError``, and the errors of translation itself
(the one package with no I/O has to be the lowest). Everything that can go wrong while delivering
lives here. Each class says, through ``retriable``, whether trying the same thing again later can
succeed, and through ``fatal``, whether the failure concerns the whole service rather than one
event: the engine needs no other fact to choose between retrying, dead-lettering and stopping.
Foreign exceptions are converted into this tree at one boundary each: aiohttp's in
``consumer.freshsales.client``, aiokafka's in ``consumer.kafka.boundary``.

    DestinationError                  retriable?  fatal?
    ├── TranslationError              no          no    the event itself is wrong: dead-letter it
    ├── CatalogError                  no          no    a field catalog given as input is malformed
    ├── ConfigurationError            no          yes   settings that cannot work (domain, key…)
    ├── BrokerError                   yes         no    Kafka did not take a write or a commit
    │   └── BrokerRefused             no          no    Kafka refused the settings or the request
    │       └── OversizedRecord       no          no    a record larger than Kafka accepts
    └── FreshsalesError                                 an HTTP call did not succeed
        ├── TransientError            yes         no    5xx, timeout, connection error, bad answer
        │   └── RateLimited           yes         no    429, with the server's Retry-After
        ├── RejectedError             no          no    400/404/422…: this request is wrong
        ├── AccessDenied              no          yes   401/403: the key is wrong or lacks rights
        └── Misdirected               no          yes   a redirect: the base URL is wrong
"""

from __future__ import annotations

from typing import ClassVar

from translate.errors import DestinationError


class ConfigurationError(DestinationError):
    """A setting cannot work (the message says which and why); raised before consuming anything."""

    fatal: ClassVar[bool] = True


class BrokerError(DestinationError):
    """Kafka did not do what was asked (a write, a commit, a read) for now: later may succeed."""

    retriable: ClassVar[bool] = True


class BrokerRefused(BrokerError):
    """Kafka answered and refused: the settings (security, SASL) or the request cannot work."""

    retriable: ClassVar[bool] = False


class OversizedRecord(BrokerRefused):
    """Kafka refused a record as too large: sending the same record again cannot help."""


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
