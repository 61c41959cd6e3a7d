"""Linking a person to an account: every account they have is kept, and a link already in place
costs no call."""

from __future__ import annotations

from typing import Any

import pytest

from translate import (
    Flavor,
    LookupKind,
    Options,
    Reason,
    Skip,
    Step,
    TranslationError,
    materialize,
    needless,
    step_record,
    translate_event,
)
from translate.link import merge, read_links

GROUP: dict[str, Any] = {"type": "group", "userId": "u-1", "traits": {"name": "Globex"}}
GROUP_BY_EMAIL: dict[str, Any] = {**GROUP, "context": {"traits": {"email": "ada@example.com"}}}
LOOKUPS = {(LookupKind.LIFECYCLE_STAGE, "Lead"): 10}


def test_a_group_account_is_added_as_secondary_when_the_person_has_a_primary() -> None:
    assert merge([(1, True), (2, False)], 3, primary=False) == (
        ((1, True), (2, False), (3, False)),
        True,
    )


def test_a_group_account_becomes_primary_when_the_person_has_none() -> None:
    assert merge([], 3, primary=False) == (((3, True),), True)
    assert merge([(1, False)], 3, primary=False) == (((1, False), (3, True)), True)


def test_an_account_already_linked_is_in_place_whatever_its_primary_flag() -> None:
    assert merge([(1, True), (3, False)], 3, primary=False) == (((1, True), (3, False)), False)


def test_identifys_company_becomes_the_primary_and_the_others_stay() -> None:
    assert merge([(1, True), (2, False)], 3, primary=True) == (
        ((1, False), (2, False), (3, True)),
        True,
    )
    assert merge([(3, False), (1, True)], 3, primary=True) == (((1, False), (3, True)), True)
    assert merge([(1, False), (3, True)], 3, primary=True) == (((1, False), (3, True)), False)
    # Two primaries (never from Freshsales itself) are put right.
    assert merge([(1, True), (3, True)], 3, primary=True)[1] is True


@pytest.mark.parametrize(
    ("value", "links"),
    [
        ([{"partial": True, "id": 1, "name": "A", "is_primary": True}], ((1, True),)),
        ([{"id": "2", "is_primary": False}, {"id": 3}], ((2, False), (3, False))),
        (((4, True),), ((4, True),)),
        ([], ()),
        (None, None),
        ("1,2", None),
        ([{"id": 1}, {"name": "no id"}], None),
        ([{"id": True}], None),
        ([7], None),
    ],
)
def test_only_a_list_read_whole_counts_as_the_persons_accounts(
    value: object, links: object
) -> None:
    assert read_links(value) == links


def test_a_person_record_keeps_its_accounts_as_links_or_not_at_all() -> None:
    person = translate_event(GROUP_BY_EMAIL).requests[0]
    listed = {"contact": {"id": 8, "sales_accounts": [{"id": 1, "is_primary": True, "x": 1}]}}
    assert step_record(person, listed) == {
        "id": 8,
        "targetable_type": "Contact",
        "sales_accounts": ((1, True),),
    }
    unreadable = {"contact": {"id": 8, "sales_accounts": [{"name": "?"}]}}
    assert step_record(person, unreadable) == {"id": 8, "targetable_type": "Contact"}


def test_a_known_person_with_accounts_needs_no_call_and_a_link_in_place_neither() -> None:
    person, account, link = translate_event(GROUP_BY_EMAIL).requests
    assert needless(person, {}) is None
    known = {"id": 8, "targetable_type": "Contact", "sales_accounts": ((1, True),)}
    assert needless(person, {Step.PERSON: {"id": 8}}) is None  # accounts unknown: ask
    assert needless(person, {Step.PERSON: known}) is Skip.KNOWN
    assert needless(account, {Step.PERSON: known}) is None
    assert needless(link, {Step.PERSON: known, Step.ACCOUNT: {"id": 2}}) is None
    assert needless(link, {Step.PERSON: known, Step.ACCOUNT: {"id": 1}}) is Skip.IN_PLACE


def test_requests_that_neither_find_a_person_nor_link_are_always_sent() -> None:
    event = {"type": "track", "userId": "u", "event": "x", "timestamp": "2026-11-02T00:00:00Z"}
    (activity,) = translate_event(event).requests
    assert needless(activity, {Step.PERSON: {"id": 8, "sales_accounts": ()}}) is None


def test_the_link_writes_every_account_the_person_has() -> None:
    *_, link = translate_event(GROUP).requests
    person = {"id": 8, "sales_accounts": ((1, True), (2, False))}
    path, body = materialize(link, {Step.PERSON: person, Step.ACCOUNT: {"id": 3}}, {})
    assert path == "contacts/8?include=sales_accounts"
    assert body == {
        "contact": {
            "sales_accounts": [
                {"id": 1, "is_primary": True},
                {"id": 2, "is_primary": False},
                {"id": 3, "is_primary": False},
            ]
        }
    }


@pytest.mark.parametrize(
    "records",
    [
        {Step.PERSON: {"id": 8}, Step.ACCOUNT: {"id": 3}},
        {Step.PERSON: {"id": 8, "sales_accounts": ()}, Step.ACCOUNT: {"id": "3"}},
        {Step.PERSON: {"id": 8, "sales_accounts": ()}},
    ],
    ids=["accounts-unknown", "account-id-not-a-number", "no-account"],
)
def test_a_link_that_cannot_keep_the_other_accounts_is_never_sent(records: Any) -> None:
    *_, link = translate_event(GROUP).requests
    assert needless(link, records) is None
    with pytest.raises(TranslationError) as caught:
        materialize(link, records, {})
    assert caught.value.reason is Reason.UNRESOLVED_REFERENCE


def test_identify_links_its_company_after_the_person_answered_with_their_accounts() -> None:
    event = {"type": "identify", "userId": "u", "traits": {"email": "a@b.co", "company": "Acme"}}
    _, person, link = translate_event(event).requests
    _, body = materialize(person, {Step.ACCOUNT: {"id": 3}}, LOOKUPS)
    assert "sales_accounts" not in body["contact"]
    answer = {"contact": {"id": 8, "sales_accounts": [{"id": 3, "is_primary": True}]}}
    records: dict[Step, Any] = {Step.ACCOUNT: {"id": 3}, Step.PERSON: step_record(person, answer)}
    assert needless(link, records) is Skip.IN_PLACE


@pytest.mark.parametrize(
    ("kind", "lead_path", "contact_path"),
    [
        (None, None, Skip.NOT_FOR_PERSON),  # not seen yet: the context says lead
        ("Lead", None, Skip.NOT_FOR_PERSON),
        ("Contact", Skip.NOT_FOR_PERSON, None),
    ],
)
def test_on_classic_the_persons_kind_chooses_the_lead_or_the_contact_path(
    kind: str | None, lead_path: Skip | None, contact_path: Skip | None
) -> None:
    requests = translate_event(GROUP_BY_EMAIL, Options(flavor=Flavor.CLASSIC)).requests
    lead, person, account, link = requests
    records: dict[Step, Any] = {}
    if kind is not None:
        records[Step.PERSON] = {"id": 8, "targetable_type": kind}
    assert needless(lead, records) is lead_path
    for request in (account, link):
        assert needless(request, records) is contact_path
    assert needless(person, records) is contact_path
