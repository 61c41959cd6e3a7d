"""Carrying out a translation: records from answers, injections, path placeholders."""

from __future__ import annotations

from typing import Any

import pytest

from translate import (
    LookupKind,
    Options,
    Reason,
    Step,
    TranslationError,
    materialize,
    request_json,
    step_record,
    translate_event,
)
from translate.model import FromStep, Inject, Request, frozen

SEED_DEAL = {
    "type": "identify",
    "userId": "97980cfea0067",
    "traits": {
        "email": "john.doe@example.com",
        "company": {"name": "Example.com"},
        "deal": {"name": "Sample Deal", "amount": 1234},
    },
}
LOOKUPS = {
    (LookupKind.LIFECYCLE_STAGE, "Lead"): 71012139273,
    (LookupKind.SALES_ACTIVITY_TYPE, "Segment Event"): 31000,
    (LookupKind.DEFAULT_OWNER, ""): 900,
}


def test_the_link_keeps_the_persons_accounts_and_the_deal_gets_both_ids() -> None:
    account, person, link, deal = translate_event(SEED_DEAL).requests
    records: dict[Step, Any] = {}
    records[Step.ACCOUNT] = step_record(
        account, {"sales_account": {"id": 7, "name": "Example.com"}}
    )
    path, body = materialize(person, records, LOOKUPS)
    assert path == "contacts/upsert?include=sales_accounts"
    assert "sales_accounts" not in body["contact"]  # it would replace the person's accounts
    assert body["contact"]["lifecycle_stage_id"] == 71012139273
    other = {"partial": True, "id": 3, "name": "Other", "is_primary": True}
    answer = {"contact": {"id": 8, "owner_id": 5, "sales_accounts": [other]}}
    records[Step.PERSON] = step_record(person, answer)
    path, body = materialize(link, records, LOOKUPS)
    assert path == "contacts/8?include=sales_accounts"
    accounts = [{"id": 3, "is_primary": False}, {"id": 7, "is_primary": True}]
    assert body == {"contact": {"sales_accounts": accounts}}
    path, body = materialize(deal, records, LOOKUPS)
    assert path == "deals/upsert"
    assert body["deal"]["sales_account_id"] == 7
    assert body["deal"]["contacts_added_list"] == [8]


def test_materialize_returns_a_fresh_body_and_leaves_the_request_unchanged() -> None:
    _, person, _, _ = translate_event(SEED_DEAL).requests
    _, body = materialize(person, {Step.ACCOUNT: {"id": 7}}, LOOKUPS)
    body["contact"]["emails"] = "changed"
    unchanged = request_json(person)["body"]["contact"]
    assert unchanged["emails"] == "john.doe@example.com"
    with pytest.raises(TypeError):
        person.body["contact"] = {}  # type: ignore[index]


def test_the_activity_owner_falls_back_to_the_default_owner() -> None:
    event = {"type": "track", "userId": "u-1", "event": "x", "timestamp": "2026-11-02T00:00:00Z"}
    (activity,) = translate_event(event).requests
    person = {"id": 8, "owner_id": None, "targetable_type": "Contact"}
    _, body = materialize(activity, {Step.PERSON: person}, LOOKUPS)
    assert body["sales_activity"]["owner_id"] == 900
    assert body["sales_activity"]["targetable_id"] == 8
    _, body = materialize(activity, {Step.PERSON: {**person, "owner_id": 5}}, LOOKUPS)
    assert body["sales_activity"]["owner_id"] == 5


def test_an_activity_without_a_known_person_is_unknown_person() -> None:
    event = {"type": "track", "userId": "u-1", "event": "x", "timestamp": "2026-11-02T00:00:00Z"}
    (activity,) = translate_event(event).requests
    with pytest.raises(TranslationError) as caught:
        materialize(activity, {}, LOOKUPS)
    assert caught.value.reason is Reason.UNKNOWN_PERSON


def test_a_missing_account_setting_is_an_unresolved_reference() -> None:
    event = {"type": "track", "userId": "u-1", "event": "x", "timestamp": "2026-11-02T00:00:00Z"}
    (activity,) = translate_event(event).requests
    person = {"id": 8, "owner_id": 5, "targetable_type": "Contact"}
    with pytest.raises(TranslationError, match="sales_activity_type_id needs") as caught:
        materialize(activity, {Step.PERSON: person}, {})
    assert caught.value.reason is Reason.UNRESOLVED_REFERENCE


def test_path_placeholders_are_filled_and_escaped() -> None:
    options = Options(stage_map={" ORDER completed ": "Customer"})
    event = {
        "type": "track",
        "userId": "u-1",
        "event": "Order Completed",
        "timestamp": "2026-11-02T00:00:00Z",
    }
    *_, lifecycle = translate_event(event, options).requests
    lookups = {**LOOKUPS, (LookupKind.LIFECYCLE_STAGE, "Customer"): 4}
    path, body = materialize(lifecycle, {Step.PERSON: {"id": 8}}, lookups)
    assert (path, body) == ("contacts/8", {"contact": {"lifecycle_stage_id": 4}})
    path, _ = materialize(lifecycle, {Step.PERSON: {"id": "a/b"}}, lookups)
    assert path == "contacts/a%2Fb"
    with pytest.raises(TranslationError) as caught:
        materialize(lifecycle, {Step.PERSON: {"id": True}}, lookups)
    assert caught.value.reason is Reason.UNKNOWN_PERSON


def test_a_placeholder_of_another_step_is_an_unresolved_reference() -> None:
    request = Request(Step.DEAL, "PUT", "deals/{deal.id}", "deal", frozen({"deal": frozen({})}))
    with pytest.raises(TranslationError) as caught:
        materialize(request, {}, {})
    assert caught.value.reason is Reason.UNRESOLVED_REFERENCE


def test_an_optional_injection_with_no_value_removes_the_key() -> None:
    body = frozen({"deal": frozen({"name": "D", "sales_account_id": None})})
    optional = Inject(("deal", "sales_account_id"), (FromStep(Step.ACCOUNT, "id"),), required=False)
    request = Request(Step.DEAL, "POST", "deals/upsert", "deal", body, (optional,))
    assert materialize(request, {}, {}) == ("deals/upsert", {"deal": {"name": "D"}})
    assert materialize(request, {Step.ACCOUNT: {"id": 3}}, {})[1] == {
        "deal": {"name": "D", "sales_account_id": 3}
    }


@pytest.mark.parametrize(
    ("answer", "record"),
    [
        ({"contact": {"id": 1}}, {"id": 1, "targetable_type": "Contact"}),
        ({"contact": {"id": 1}, "meta": {}}, {"id": 1, "targetable_type": "Contact"}),
        ({"id": 1}, None),
        ({"contact": [1]}, None),
        ("oops", None),
    ],
)
def test_step_record_reads_the_singular_envelope(answer: object, record: object) -> None:
    person = translate_event(
        {"type": "identify", "userId": "u", "traits": {"email": "a@b.co", "fsContact": True}}
    ).requests[0]
    assert step_record(person, answer) == record


def test_a_classic_lead_record_is_targeted_as_a_lead() -> None:
    from translate import Flavor

    lead = translate_event(
        {"type": "identify", "userId": "u", "traits": {"email": "a@b.co"}},
        Options(flavor=Flavor.CLASSIC),
    ).requests[0]
    assert step_record(lead, {"lead": {"id": 1}}) == {"id": 1, "targetable_type": "Lead"}
    account = translate_event(SEED_DEAL).requests[0]
    assert step_record(account, {"sales_account": {"id": 2}}) == {"id": 2}
