"""Accounts: one set of rules for an account's fields, whether identify's ``company`` or a group's
traits describe it, and the requests that upsert it and link the person to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from translate.model import (
    JSON,
    FromLookup,
    Inject,
    LookupKind,
    MergeAccounts,
    Options,
    Request,
    Step,
    frozen,
)
from translate.record import RecordBuilder

SHOWN_INDUSTRIES: Final = 10
"""At most this many of the account's industry types are named in a notice."""

# Keys a rule below consumes; every other key goes through the generic trait rule.
_RESERVED: Final = frozenset(
    ["name", "address", "employees", "employeeCount", "employee_count", "industry"]
)
_EMPLOYEES: Final = ("employees", "employeeCount", "employee_count")
_LINK_PATH: Final = "contacts/{person.id}?include=sales_accounts"


def fill_account(
    account: RecordBuilder, source: Mapping[str, object], options: Options
) -> tuple[Inject, ...]:
    """Map an account's keys onto ``account`` (whose name is already set). Returns what is to be
    injected at delivery, with targets relative to the account record."""
    if source.get("address") is not None:
        account.put_address(source["address"])
    for key in _EMPLOYEES:
        if key in source:
            account.put("number_of_employees", source[key], key)
    inject = _industry(account, source.get("industry"), options) if "industry" in source else ()
    for key, value in source.items():
        if key not in _RESERVED:
            account.put_trait(key, value)
    return inject


def _industry(account: RecordBuilder, value: object, options: Options) -> tuple[Inject, ...]:
    """``industry`` is a name; Freshsales wants the id of that industry type, read at start-up.
    An unknown name is dropped and reported: one bad trait must not cost the account its upsert."""
    if value is None:
        return ()
    if not isinstance(value, str) or not value.strip():
        account.ignore("industry")
        return ()
    name = value.strip()
    known = options.industry_types
    if known is not None:
        wanted = name.casefold()
        match = next((kind for kind in known if kind.casefold() == wanted), None)
        if match is None:
            account.ignore("industry")
            have = ", ".join(sorted(known)[:SHOWN_INDUSTRIES]) or "none"
            more = len(known) - SHOWN_INDUSTRIES
            account.notice(
                "unknown_industry",
                "industry",
                f"{name!r} is not an industry type of the account (have: {have}"
                + (f" and {more} more)" if more > 0 else ")"),
            )
            return ()
        name = match
    # Taken now, so that a later industryTypeId trait loses to the name (first rule wins).
    account.fields["industry_type_id"] = None
    source = FromLookup(LookupKind.INDUSTRY_TYPE, name)
    return (Inject(("industry_type_id",), (source,), required=False),)


def nest(inject: tuple[Inject, ...], *prefix: str) -> tuple[Inject, ...]:
    """Injections relative to a record, relative to the body that holds it."""
    return tuple(i._replace(target=(*prefix, *i.target)) for i in inject)


def account_upsert(fields: dict[str, JSON], inject: tuple[Inject, ...]) -> Request:
    """``POST sales_accounts/upsert`` keyed on the name (the accounts' default unique field)."""
    body = frozen(
        {"unique_identifier": frozen({"name": fields["name"]}), "sales_account": frozen(fields)}
    )
    return Request(
        Step.ACCOUNT,
        "POST",
        "sales_accounts/upsert",
        "sales_account",
        body,
        nest(inject, "sales_account"),
    )


def link(*, primary: bool) -> Request:
    """The person's accounts written back with the account step's one added. Freshsales
    replaces the list with what is sent, so it carries every account the person has (from the
    person's record: an answer that included them, or the identity map); the service skips it
    when the person already has the account as wanted."""
    return _LINKS[primary]


_LINKS: Final = {
    primary: Request(
        Step.LINK,
        "PUT",
        _LINK_PATH,
        "contact",
        frozen({"contact": frozen({"sales_accounts": None})}),
        (Inject(("contact", "sales_accounts"), (MergeAccounts(primary),)),),
    )
    for primary in (True, False)
}
