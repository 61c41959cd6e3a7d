"""Immutable values that translation produces: requests, their dependencies, and the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

from translate.errors import Reason
from translate.filters import EventFilter
from translate.identities import NO_NAMES, Names

if TYPE_CHECKING:
    from translate.fields import FieldCatalog

JSON: TypeAlias = bool | int | float | str | tuple["JSON", ...] | Mapping[str, "JSON"] | None
"""A JSON value whose containers are read-only (tuples and mapping proxies)."""

EMPTY: Mapping[str, JSON] = MappingProxyType({})
EMPTY_STAGES: Mapping[str, str] = MappingProxyType({})


frozen: Callable[[dict[str, JSON]], Mapping[str, JSON]] = MappingProxyType
"""Wrap a freshly built dict nobody else holds, so the result cannot be changed. (An alias, not
a function: it runs several times per event.)"""


class Flavor(StrEnum):
    """Which Freshsales product the account is: the paths and the lead model differ."""

    SUITE = "suite"
    CLASSIC = "classic"


class Step(StrEnum):
    """The role of a request in an event's chain. Later requests refer to earlier ones by it."""

    ACCOUNT = "account"
    PERSON = "person"
    DEAL = "deal"
    ACTIVITY = "activity"
    LIFECYCLE = "lifecycle"
    LINK = "link"
    """The person's accounts written with one more: after the account and the person are known."""


class LookupKind(StrEnum):
    """Account settings that the service reads once at start-up, never per event."""

    LIFECYCLE_STAGE = "lifecycle_stage"
    SALES_ACTIVITY_TYPE = "sales_activity_type"
    DEFAULT_OWNER = "default_owner"
    INDUSTRY_TYPE = "industry_type"


class FromStep(NamedTuple):
    """A field of the record an earlier step of the same event returned (e.g. the account's id)."""

    step: Step
    field: str

    def describe(self) -> str:
        return f"{self.step.value}.{self.field}"


class FromLookup(NamedTuple):
    """An id the service resolved at start-up from a name (e.g. the "Page View" activity type)."""

    kind: LookupKind
    name: str = ""

    def describe(self) -> str:
        return f"lookup:{self.kind.value}" + (f":{self.name}" if self.name else "")


class MergeAccounts(NamedTuple):
    """The person's ``sales_accounts`` with the account step's id added, every account they
    already have kept (``translate.link``). ``primary``: the account becomes the primary one;
    otherwise only when the person has none."""

    primary: bool

    def describe(self) -> str:
        return "merge:person.sales_accounts+account.id" + (":primary" if self.primary else "")


Origin: TypeAlias = FromStep | FromLookup | MergeAccounts


class Inject(NamedTuple):
    """Fill ``target`` (a path of keys and list indexes into the body) from the first source that
    resolves. The body holds ``null`` there until then. When nothing resolves, a ``required``
    injection fails with reason ``missing``; an optional one removes the key."""

    target: tuple[str | int, ...]
    sources: tuple[Origin, ...]
    required: bool = True
    missing: Reason = Reason.UNRESOLVED_REFERENCE

    def describe(self) -> str:
        return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.target)[1:]


class ForKind(NamedTuple):
    """A request meant for one kind of person (a Classic lead or contact: ``targetable_type``).
    Whether it applies is decided when it is due, from the person known by then; for a person not
    known yet, ``when_unknown`` says what the event itself suggests."""

    kind: str
    when_unknown: bool


class Request(NamedTuple):
    """One Freshsales API call.

    ``path`` is relative to the API base (``…/crm/sales/api/`` or ``…/api/``) and may hold
    ``{step.field}`` placeholders filled from earlier steps, and an ``?include=`` query.
    ``envelope`` is the singular root key of the body and of the response record. A request with
    ``skip_if_known`` only resolves who the person is: the service skips it when its identity
    map already knows the person, with the fields ``known_needs`` names. ``for_kind`` limits it
    to one kind of person. :func:`translate.needless` says when a request is not to be sent.
    """

    step: Step
    method: str
    path: str
    envelope: str
    body: Mapping[str, JSON]
    inject: tuple[Inject, ...] = ()
    skip_if_known: bool = False
    known_needs: tuple[str, ...] = ()
    for_kind: ForKind | None = None


class Outcome(StrEnum):
    """What should happen to the event as a whole."""

    DELIVER = "deliver"
    """Send ``requests`` in order."""
    UNSUPPORTED = "unsupported"
    """A Segment type this destination does not handle (alias, unknown types): acknowledge."""
    DISABLED = "disabled"
    """A type the configuration turned off (page events when pages are not delivered)."""
    FILTERED = "filtered"
    """An event the event filters (``Options.events``) keep from the CRM: acknowledge."""
    LINK = "link"
    """An alias: two identities are one person. No call; the identity map links them."""
    UNLINKABLE = "unlinkable"
    """An alias naming a junk id (``anonymous``, ``null``…): nothing to link; acknowledge."""
    FORGET = "forget"
    """A deletion request (Segment's ``delete``): the person is erased from Freshsales and their
    identities are suppressed from then on."""


class Notice(NamedTuple):
    """Something dropped or adjusted while translating; the event itself still goes out."""

    code: str
    field: str
    detail: str


class Translation(NamedTuple):
    """The full answer for one event.

    ``names`` are the identities the event carries (``translate.identities``): the identity map
    finds the person by them and links them to the person the requests reach. ``ignored`` names
    the traits that map to no Freshsales field.
    """

    outcome: Outcome
    type: str
    message_id: str | None
    requests: tuple[Request, ...] = ()
    names: Names = NO_NAMES
    ignored: tuple[str, ...] = ()
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True, slots=True)
class Options:
    """Everything translation needs to know about the account and the configuration, as values."""

    flavor: Flavor = Flavor.SUITE
    catalog: FieldCatalog | None = None
    track_activity_type: str = "Segment Event"
    page_activity_type: str = "Page View"
    lead_stage: str = "Lead"
    stage_map: Mapping[str, str] = field(default_factory=lambda: EMPTY_STAGES)
    """Track event name → lifecycle stage name. Matched ignoring case and surrounding spaces."""
    deliver_pages: bool = True
    screen_activity_type: str | None = None
    """Sales activity type for screen; None: the page type."""
    group_id_field: str | None = None
    """The account custom field (``cf_…``) that receives a group's ``groupId``; None: not sent."""
    industry_types: tuple[str, ...] | None = None
    """The account's industry type names (matched ignoring case); None: not known, so every
    name is passed on for the service to resolve."""
    events: EventFilter = field(default_factory=EventFilter)
    """Which events reach the CRM at all."""

    def __post_init__(self) -> None:
        normal = {k.strip().casefold(): v for k, v in self.stage_map.items()}
        object.__setattr__(self, "stage_map", MappingProxyType(normal))
