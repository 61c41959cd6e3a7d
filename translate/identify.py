"""identify → a lead or contact upsert, with its account before it, and the link to the account
and its deal after it."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

from translate.accounts import account_upsert, fill_account, link, nest
from translate.errors import Reason, TranslationError
from translate.event import (
    Event,
    anonymous_id,
    context_traits,
    find_email,
    identifier,
    message_id,
    obj,
)
from translate.fields import Module
from translate.identities import Names, usable
from translate.model import (
    JSON,
    Flavor,
    ForKind,
    FromLookup,
    FromStep,
    Inject,
    LookupKind,
    Options,
    Outcome,
    Request,
    Step,
    Translation,
    frozen,
)
from translate.record import Dropped, RecordBuilder

# Enum attribute access costs about 0.25 µs on CPython 3.11 and these run for every event,
# so the hot paths use module-level aliases.
_CLASSIC, _SUITE, _DELIVER = Flavor.CLASSIC, Flavor.SUITE, Outcome.DELIVER
_CONTACTS, _LEADS, _SALES_ACCOUNTS, _DEALS = (
    Module.CONTACTS,
    Module.LEADS,
    Module.SALES_ACCOUNTS,
    Module.DEALS,
)

_CONTACT_FLAG_TRUE = frozenset({"true", "1", "yes"})

# Traits that a rule below consumes; every other trait goes through the generic rule.
_RESERVED = frozenset(
    [
        "email",
        "fsContact",
        "fs_contact",
        "firstName",
        "first_name",
        "lastName",
        "last_name",
        "name",
        "title",
        "phone",
        "address",
        "company",
        "deal",
    ]
)
_PERSON_RULES = (
    ("firstName", "first_name"),
    ("first_name", "first_name"),
    ("lastName", "last_name"),
    ("last_name", "last_name"),
    ("title", "job_title"),
    ("phone", "work_number"),
)


def wants_contact(traits: Mapping[str, object]) -> bool:
    """The ``fsContact`` / ``fs_contact`` control trait: true, "true", "1", "yes" (any case)."""
    flag = traits.get("fsContact")
    if flag is None:  # null means absent, as for every trait
        flag = traits.get("fs_contact")
    if isinstance(flag, bool):
        return flag
    if isinstance(flag, int):
        return flag == 1
    return isinstance(flag, str) and flag.strip().casefold() in _CONTACT_FLAG_TRUE


def translate_identify(event: Event, options: Options, *, by_id: bool = False) -> Translation:
    """An identify: the person upserted by email (with ``external_id`` = the userId, when there
    is one), their company and deal.

    Without an email, or with ``by_id`` (the service knows the person by the userId, and the email
    is a new one of theirs), the person the identity map knows is updated by id instead: the
    requests then need that person's id, and the service delivers them only once it knows it."""
    user_id = usable(identifier(event, "userId"))
    anonymous = anonymous_id(event)
    if user_id is None and anonymous is None:
        raise TranslationError(Reason.MISSING_USER_ID, "identify needs a userId or an anonymousId")
    traits = obj(event, "traits")
    email, offered = find_email(traits.get("email"), user_id=None)
    if email is None:  # context.traits only when needed: most identifies carry traits.email
        email, also = find_email(context_traits(event).get("email"), user_id=user_id)
        offered = offered or also
    if email is None and offered:
        raise TranslationError(
            Reason.INVALID_EMAIL, "traits.email / context.traits.email is not an address"
        )

    report = Dropped()
    contact = ("fsContact" in traits or "fs_contact" in traits) and wants_contact(traits)
    if email is None or by_id:
        requests = _known_person(traits, options, report, email, user_id)
    else:
        nested = options.flavor is _CLASSIC and not contact
        person = _person(traits, _LEADS if nested else _CONTACTS, options, report)
        person.fields["emails"] = email
        if user_id is not None:
            person.fields["external_id"] = user_id
        account = _account(traits["company"], options, report) if "company" in traits else None
        deal = _deal(traits["deal"], options, report) if "deal" in traits else None
        if nested:
            requests = _classic_lead(person, account, deal, email)
        else:
            suite_lead = options.flavor is _SUITE and not contact
            stage = options.lead_stage if suite_lead else None
            requests = _contact_chain(person, account, deal, email, stage)
    return Translation(
        _DELIVER,
        "identify",
        message_id(event),
        requests,
        Names(email, user_id, anonymous),
        tuple(report.ignored) if report.ignored else (),
        tuple(report.notices) if report.notices else (),
    )


def _known_person(
    traits: Mapping[str, object],
    options: Options,
    report: Dropped,
    email: str | None,
    user_id: str | None,
) -> tuple[Request, ...]:
    """The person the identity map knows, updated by id: the traits, the email when it is a new
    one (it becomes the primary), the userId as ``external_id``. No lifecycle stage: the person
    exists and may have moved on from being a lead. Classic keeps leads and contacts apart, so
    both forms are planned and the person's kind picks one when it is due."""

    def build(module: Module, into: Dropped) -> RecordBuilder:
        person = _person(traits, module, options, into)
        if email is not None:
            person.fields["emails"] = email
        if user_id is not None:
            person.fields["external_id"] = user_id
        return person

    def objects(into: Dropped) -> tuple[_Account | None, RecordBuilder | None]:
        account = _account(traits["company"], options, into) if "company" in traits else None
        deal = _deal(traits["deal"], options, into) if "deal" in traits else None
        return account, deal

    if options.flavor is _SUITE:
        account, deal = objects(report)
        return _contact_chain(build(_CONTACTS, report), account, deal, None, None)
    # Classic: what a lead's form reports stands for both (the contact form's report repeats it).
    account, deal = objects(report)
    lead = _classic_lead(build(_LEADS, report), account, deal, None)
    other = Dropped()
    account, deal = objects(other)
    contact = _contact_chain(build(_CONTACTS, other), account, deal, None, None)
    return (
        *(r._replace(for_kind=_FOR_LEAD) for r in lead),
        *(r._replace(for_kind=_FOR_CONTACT) for r in contact),
    )


_FOR_LEAD = ForKind("Lead", when_unknown=False)
_FOR_CONTACT = ForKind("Contact", when_unknown=False)


def _person(
    traits: Mapping[str, object], module: Module, options: Options, report: Dropped
) -> RecordBuilder:
    person = RecordBuilder(module, options.catalog, report)
    # Rule order decides which trait wins a field; `in` guards keep absent traits free.
    for key, field in _PERSON_RULES:
        if key in traits:
            person.put(field, traits[key], key)
    if "name" in traits:
        _split_name(person, traits["name"])
    if traits.get("address") is not None:
        person.put_address(traits["address"])
    for key, value in traits.items():
        if key not in _RESERVED:
            person.put_trait(key, value)
    return person


def _split_name(person: RecordBuilder, name: object) -> None:
    """``name`` fills whichever of first/last name is still absent: last word → last_name."""
    if name is None:
        return
    if not isinstance(name, str) or not name.split():
        person.ignore("name")
        return
    *first, last = name.split()
    used = False
    if "last_name" not in person.fields:
        person.put("last_name", last, "name")
        used = True
    if first and "first_name" not in person.fields:
        person.put("first_name", " ".join(first), "name")
        used = True
    if not used:
        person.ignore("name")


def _named_record(
    value: object, what: str, module: Module, options: Options, report: Dropped
) -> tuple[RecordBuilder, Mapping[str, object]] | None:
    """``company``/``deal``: an object with a name, or a string that is the name. Returns the
    record with its name set, and the object's keys; None (with a notice) when unusable."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"name": value}
    if type(value) is not dict and not isinstance(value, Mapping):
        report.notice("invalid_object", what, f"{what} must be an object; skipped")
        return None
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        report.notice("object_without_name", what, f"{what} has no name; skipped")
        return None
    record = RecordBuilder(module, options.catalog, report, f"{what}.")
    record.put_key("name", name.strip())
    return record, value


class _Account(NamedTuple):
    """The company's record and what it takes from the account settings (its industry type)."""

    record: RecordBuilder
    inject: tuple[Inject, ...]


def _account(value: object, options: Options, report: Dropped) -> _Account | None:
    found = _named_record(value, "company", _SALES_ACCOUNTS, options, report)
    if found is None:
        return None
    account, company = found
    return _Account(account, fill_account(account, company, options))


def _deal(value: object, options: Options, report: Dropped) -> RecordBuilder | None:
    found = _named_record(value, "deal", _DEALS, options, report)
    if found is None:
        return None
    deal, source = found
    for key, field_value in source.items():
        if key != "name":
            deal.put_trait(key, field_value)
    return deal


class _Upsert(NamedTuple):
    """Where an upsert of one module goes and what identifies its record."""

    step: Step
    path: str
    envelope: str
    key: str


# The person's accounts come back with the answer: the link after it keeps them.
_CONTACT = _Upsert(Step.PERSON, "contacts/upsert?include=sales_accounts", "contact", "emails")
_LEAD = _Upsert(Step.PERSON, "leads/upsert", "lead", "emails")
_DEAL = _Upsert(Step.DEAL, "deals/upsert", "deal", "name")


def _upsert(
    target: _Upsert, value: JSON, record: dict[str, JSON], inject: tuple[Inject, ...] = ()
) -> Request:
    body = frozen(
        {"unique_identifier": frozen({target.key: value}), target.envelope: frozen(record)}
    )
    return Request(target.step, "POST", target.path, target.envelope, body, inject)


def _update(target: _Upsert, record: dict[str, JSON], inject: tuple[Inject, ...] = ()) -> Request:
    """The person the identity map knows, written by id (``{person.id}`` is filled when due)."""
    module, _, query = target.path.partition("/upsert")
    body = frozen({target.envelope: frozen(record)})
    path = f"{module}/{{person.id}}{query}"
    return Request(target.step, "PUT", path, target.envelope, body, inject)


def _classic_lead(
    person: RecordBuilder, account: _Account | None, deal: RecordBuilder | None, email: str | None
) -> tuple[Request, ...]:
    """Classic leads carry their company and deal inside the same call (by id: ``email`` None)."""
    record = person.body()
    inject: tuple[Inject, ...] = ()
    if account is not None:
        record["company"] = frozen(account.record.body())
        inject = nest(account.inject, "lead", "company")
    if deal is not None:
        record["deal"] = frozen(deal.body())
    if email is None:
        return (_update(_LEAD, record, inject),)
    return (_upsert(_LEAD, email, record, inject),)


def _contact_chain(
    person: RecordBuilder,
    account: _Account | None,
    deal: RecordBuilder | None,
    email: str | None,
    lead_stage: str | None,
) -> tuple[Request, ...]:
    """account upsert → contact upsert → link (needs both ids) → deal upsert (needs both ids).

    The contact upsert never carries ``sales_accounts``: Freshsales would replace the person's
    accounts with it, and who else the person belongs to is only known from its answer. The link
    then adds the company as the primary account, keeping the others, and costs no call when it
    is already in place.

    ``lead_stage`` marks a Suite lead: a contact in the named lifecycle stage, unless the traits
    set ``lifecycle_stage_id`` themselves. ``email`` None: the person is known, updated by id."""
    requests: list[Request] = []
    record = person.body()
    person_inject: tuple[Inject, ...] = ()
    if account is not None:
        requests.append(account_upsert(account.record.body(), account.inject))
    if lead_stage is not None and "lifecycle_stage_id" not in record:
        record["lifecycle_stage_id"] = None
        person_inject += (stage_into_contact(lead_stage),)
    if email is None:
        requests.append(_update(_CONTACT, record, person_inject))
    else:
        requests.append(_upsert(_CONTACT, email, record, person_inject))
    if account is not None:
        requests.append(link(primary=True))
    if deal is not None:
        fields = deal.body()
        fields["contacts_added_list"] = (None,)
        deal_inject: tuple[Inject, ...] = (_PERSON_INTO_DEAL,)
        if account is not None:
            fields["sales_account_id"] = None
            deal_inject += (_ACCOUNT_INTO_DEAL,)
        requests.append(_upsert(_DEAL, fields["name"], fields, deal_inject))
    return tuple(requests)


_ACCOUNT_INTO_DEAL = Inject(("deal", "sales_account_id"), (FromStep(Step.ACCOUNT, "id"),))
_PERSON_INTO_DEAL = Inject(
    ("deal", "contacts_added_list", 0),
    (FromStep(Step.PERSON, "id"),),
    missing=Reason.UNKNOWN_PERSON,
)


@lru_cache(maxsize=64)
def stage_into_contact(stage: str) -> Inject:
    """The contact's ``lifecycle_stage_id`` from the named stage (a Suite lead, or a track event
    mapped to a stage). Cached: stage names come from configuration."""
    return Inject(
        ("contact", "lifecycle_stage_id"), (FromLookup(LookupKind.LIFECYCLE_STAGE, stage),)
    )
