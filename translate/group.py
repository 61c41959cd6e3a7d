"""group → the person's account: upserted by name with the group's traits, and linked to the
person, who keeps every account they already have. A Classic lead gets it as its company."""

from __future__ import annotations

from typing import Final

from translate.accounts import account_upsert, fill_account, link, nest
from translate.activity import resolve_person
from translate.errors import Reason, TranslationError
from translate.event import (
    Event,
    context_traits,
    find_email,
    identifier,
    message_id,
    names,
    obj,
)
from translate.fields import Module
from translate.identify import wants_contact
from translate.model import (
    EMPTY,
    JSON,
    Flavor,
    ForKind,
    Inject,
    Options,
    Outcome,
    Request,
    Step,
    Translation,
    frozen,
)
from translate.record import Dropped, RecordBuilder

_ACCOUNTS: Final = ("sales_accounts",)
"""What the person's record must hold for the link: without it, it is read again."""

# A group names no email in most libraries: the person then comes from the identity map, and
# only their accounts may need reading.
_READ_PERSON: Final = Request(
    Step.PERSON,
    "GET",
    "contacts/{person.id}?include=sales_accounts",
    "contact",
    EMPTY,
    skip_if_known=True,
    known_needs=_ACCOUNTS,
)


def translate_group(event: Event, options: Options) -> Translation:
    user_id = identifier(event, "userId")
    context = context_traits(event)
    email, _ = find_email(context.get("email"), user_id=user_id)
    who = names(event, email, user_id)
    if not who.keys:
        raise TranslationError(
            Reason.UNKNOWN_PERSON, "group has no userId, anonymousId or email to find the person by"
        )
    traits = obj(event, "traits")
    name = traits.get("name")
    if not isinstance(name, str) or not name.strip():
        raise TranslationError(
            Reason.MISSING_GROUP_NAME, "group needs traits.name: accounts are upserted by name"
        )
    report = Dropped()
    account = RecordBuilder(Module.SALES_ACCOUNTS, options.catalog, report)
    account.put_key("name", name.strip())
    if options.group_id_field is not None:
        _group_id(account, event.get("groupId"), options.group_id_field)
    inject = fill_account(account, traits, options)
    fields = account.body()
    if options.flavor is Flavor.SUITE:
        requests = _contact_path(fields, inject, email, None)
    else:
        # The person's kind is known when the request is due (the identity map, or the
        # answer before it); for a person not seen yet, the context says, as for track.
        contact = wants_contact(context)
        requests = (
            _lead_company(fields, inject, email, ForKind("Lead", not contact)),
            *_contact_path(fields, inject, email, ForKind("Contact", contact)),
        )
    return Translation(
        Outcome.DELIVER,
        "group",
        message_id(event),
        requests,
        who,
        tuple(report.ignored),
        tuple(report.notices),
    )


def _group_id(account: RecordBuilder, value: object, field: str) -> None:
    """Segment's id of the group, kept in the custom field the configuration names."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip():
        account.put_custom(field, value.strip(), "groupId")
    elif value is not None:
        account.ignore("groupId")


def _contact_path(
    fields: dict[str, JSON], inject: tuple[Inject, ...], email: str | None, kind: ForKind | None
) -> tuple[Request, ...]:
    """person (with their accounts) → account upsert → link. The person comes first: a group
    for nobody known costs no call."""
    person = resolve_person(email, lead=False) if email is not None else _READ_PERSON
    return (
        person._replace(known_needs=_ACCOUNTS, for_kind=kind),
        account_upsert(fields, inject)._replace(for_kind=kind),
        link(primary=False)._replace(for_kind=kind),
    )


def _lead_company(
    fields: dict[str, JSON], inject: tuple[Inject, ...], email: str | None, kind: ForKind
) -> Request:
    """A Classic lead has one company, nested in the lead: one call, keyed on the email when the
    event has one, else on the id the identity map knows."""
    company = frozen(fields)
    if email is None:
        body = frozen({"lead": frozen({"company": company})})
        path, method = "leads/{person.id}", "PUT"
    else:
        record = frozen({"emails": email, "company": company})
        body = frozen({"unique_identifier": frozen({"emails": email}), "lead": record})
        path, method = "leads/upsert", "POST"
    return Request(
        Step.PERSON, method, path, "lead", body, nest(inject, "lead", "company"), for_kind=kind
    )
