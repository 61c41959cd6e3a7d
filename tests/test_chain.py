"""One event's calls: in order, answers feeding later calls, resumed at the failed step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from consumer.engine.chain import Chain, advance, forget
from consumer.engine.memory.identities import IdentityCache
from consumer.engine.memory.unchanged import UpsertMemory
from consumer.errors import TransientError
from consumer.freshsales.answers import Answer
from translate import (
    LookupKind,
    Options,
    Reason,
    Step,
    Translation,
    TranslationError,
    translate_bytes,
)

LOOKUPS = {
    (LookupKind.LIFECYCLE_STAGE, "Lead"): 501,
    (LookupKind.LIFECYCLE_STAGE, "Customer"): 503,
    (LookupKind.SALES_ACTIVITY_TYPE, "Segment Event"): 701,
    (LookupKind.SALES_ACTIVITY_TYPE, "Page View"): 702,
    (LookupKind.DEFAULT_OWNER, ""): 900,
}


class FakeFreshsales:
    """Answers each call with a record whose id counts up; can fail the n-th call once."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.sent: list[tuple[str, str, Any]] = []
        self.fail_on = fail_on

    async def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None
    ) -> Answer:
        self.sent.append((method, path, body))
        if len(self.sent) == self.fail_on:
            self.fail_on = None
            raise TransientError("answered 503", status=503)
        envelope = next(k for k in (body or {}) if k != "unique_identifier")
        _, _, known = path.partition("?")[0].partition("/")
        ident = int(known) if known.isdigit() else 1000 + len(self.sent)  # PUT module/id: that one
        record: dict[str, Any] = {"id": ident, "owner_id": 42}
        if path.endswith("?include=sales_accounts"):
            # The person's accounts as written, else none yet.
            written: Any = (body or {})[envelope]
            record["sales_accounts"] = written.get("sales_accounts", [])
        return Answer(200, {envelope: record})


def translation(event: Mapping[str, Any], **options: Any) -> Translation:
    return translate_bytes(orjson.dumps(event), Options(**options))


IDENTIFY: dict[str, Any] = {
    "type": "identify",
    "userId": "u1",
    "traits": {
        "email": "ada@example.com",
        "company": {"name": "Acme"},
        "deal": {"name": "Big", "amount": 10},
    },
}
TRACK: dict[str, Any] = {
    "type": "track",
    "userId": "u1",
    "event": "Order Completed",
    "timestamp": "2026-11-02T10:00:00Z",
    "context": {"traits": {"email": "ada@example.com"}},
}


async def test_answers_feed_later_calls_in_order() -> None:
    fake = FakeFreshsales()
    chain = Chain(translation(IDENTIFY))
    await advance(chain, fake, LOOKUPS, IdentityCache())
    assert [path for _, path, _ in fake.sent] == [
        "sales_accounts/upsert",
        "contacts/upsert?include=sales_accounts",
        "contacts/1002?include=sales_accounts",
        "deals/upsert",
    ]
    contact = fake.sent[1][2]["contact"]
    assert "sales_accounts" not in contact
    assert contact["lifecycle_stage_id"] == 501
    link = fake.sent[2][2]["contact"]
    assert link["sales_accounts"] == [{"id": 1001, "is_primary": True}]
    deal = fake.sent[3][2]["deal"]
    assert (deal["sales_account_id"], deal["contacts_added_list"]) == (1001, [1002])
    assert chain.done
    assert (chain.calls, chain.lookups_saved) == (4, 0)


async def test_a_retry_resumes_at_the_failed_step() -> None:
    fake = FakeFreshsales(fail_on=4)
    chain = Chain(translation(IDENTIFY))
    with pytest.raises(TransientError):
        await advance(chain, fake, LOOKUPS, IdentityCache())
    assert chain.next_step == 3
    await advance(chain, fake, LOOKUPS, IdentityCache())
    paths = [path.partition("?")[0] for _, path, _ in fake.sent]
    assert paths == [
        "sales_accounts/upsert",
        "contacts/upsert",
        "contacts/1002",
        "deals/upsert",
        "deals/upsert",
    ]
    assert fake.sent[4][2]["deal"]["contacts_added_list"] == [1002]


async def test_a_person_known_from_identify_costs_track_no_lookup_call() -> None:
    fake = FakeFreshsales()
    people = IdentityCache()
    await advance(Chain(translation(IDENTIFY)), fake, LOOKUPS, people)
    fake.sent.clear()
    chain = Chain(translation(TRACK, stage_map={"Order Completed": "Customer"}))
    await advance(chain, fake, LOOKUPS, people)
    assert [(m, p) for m, p, _ in fake.sent] == [
        ("POST", "sales_activities"),
        ("PUT", "contacts/1002"),
    ]
    activity = fake.sent[0][2]["sales_activity"]
    assert activity["targetable_id"] == 1002
    assert activity["targetable_type"] == "Contact"
    assert activity["owner_id"] == 42
    assert activity["sales_activity_type_id"] == 701
    assert fake.sent[1][2] == {"contact": {"lifecycle_stage_id": 503}}
    assert (chain.calls, chain.lookups_saved) == (2, 1)


async def test_an_unknown_person_is_resolved_once_then_remembered() -> None:
    fake = FakeFreshsales()
    people = IdentityCache()
    await advance(Chain(translation(TRACK)), fake, LOOKUPS, people)
    await advance(Chain(translation(TRACK)), fake, LOOKUPS, people)
    assert [p for _, p, _ in fake.sent] == [
        "contacts/upsert?include=sales_accounts",
        "sales_activities",
        "sales_activities",
    ]


async def test_a_missing_account_setting_is_an_unresolved_reference() -> None:
    chain = Chain(translation(TRACK))
    with pytest.raises(TranslationError) as caught:
        await advance(chain, FakeFreshsales(), {}, IdentityCache())
    assert caught.value.reason is Reason.UNRESOLVED_REFERENCE


def test_the_identity_cache_is_bounded_and_keeps_only_what_later_calls_use() -> None:
    people = IdentityCache(capacity=2)
    people.put("a", {"id": 1, "owner_id": 7, "targetable_type": "Contact", "emails": ["x"]})
    people.put("b", {"id": 2})
    assert people.get("a") == {"id": 1, "owner_id": 7, "targetable_type": "Contact"}
    people.put("c", {"id": 3})  # "b" is the least recently used now
    assert (people.get("b"), len(people)) == (None, 2)
    people.put(None, {"id": 4})
    people.put("d", {"name": "no id"})
    assert people.get(None) is None
    assert people.get("d") is None
    people.forget("a")
    people.forget(None)
    assert people.get("a") is None
    assert len(IdentityCache(capacity=0)) == 0
    with pytest.raises(ValueError, match="negative"):
        IdentityCache(capacity=-1)


async def test_without_skip_unchanged_every_write_is_sent_and_forgetting_clears_the_person() -> (
    None
):
    fake = FakeFreshsales()
    people = IdentityCache()
    chain = Chain(translation(IDENTIFY))
    await advance(chain, fake, LOOKUPS, people, upserts=None)
    assert chain.calls == 4
    assert people.get("u1") is not None
    forget(chain, people, None)
    assert people.get("u1") is None


class Empty:
    """Answers every call with an empty object (a 2xx with nothing in it)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None
    ) -> Answer:
        self.sent.append(path)
        return Answer(200, {})


async def test_an_answer_without_its_record_is_neither_remembered_nor_kept() -> None:
    empty, upserts, people = Empty(), UpsertMemory(3600), IdentityCache()
    for _ in range(2):
        chain = Chain(translation(TRACK))
        with pytest.raises(TranslationError):  # no person record: nobody to put it on
            await advance(chain, empty, LOOKUPS, people, upserts)
    assert Step.PERSON not in chain.records
    assert len(upserts) == 0
    assert people.get("u1") is None
    assert empty.sent == ["contacts/upsert?include=sales_accounts"] * 2
