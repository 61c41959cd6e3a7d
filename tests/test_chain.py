"""One event's calls: in order, answers feeding later calls, resumed at the failed step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from consumer.engine.chain import Chain, advance, forget
from consumer.engine.memory.unchanged import UpsertMemory
from consumer.engine.people import Identities
from consumer.errors import TransientError
from consumer.freshsales.answers import Answer
from tests.identity_support import deliver as delivered
from tests.identity_support import identities as known
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


def identities() -> Identities:
    return known()


async def deliver(
    chain: Chain, fake: Any, people: Identities, upserts: UpsertMemory | None = None
) -> Chain:
    return await delivered(chain, fake, people, LOOKUPS, upserts)


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
    await deliver(chain, fake, identities())
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
        await advance(chain, fake, LOOKUPS)
    assert chain.next_step == 3
    await advance(chain, fake, LOOKUPS)
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
    people = identities()
    await deliver(Chain(translation(IDENTIFY)), fake, people)
    fake.sent.clear()
    chain = Chain(translation(TRACK, stage_map={"Order Completed": "Customer"}))
    await deliver(chain, fake, people)
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
    people = identities()
    await deliver(Chain(translation(TRACK)), fake, people)
    await deliver(Chain(translation(TRACK)), fake, people)
    assert [p for _, p, _ in fake.sent] == [
        "contacts/upsert?include=sales_accounts",
        "sales_activities",
        "sales_activities",
    ]


async def test_a_missing_account_setting_is_an_unresolved_reference() -> None:
    chain = Chain(translation(TRACK))
    with pytest.raises(TranslationError) as caught:
        await advance(chain, FakeFreshsales(), {})
    assert caught.value.reason is Reason.UNRESOLVED_REFERENCE


async def test_without_skip_unchanged_every_write_is_sent_and_the_person_is_known_after() -> None:
    fake = FakeFreshsales()
    people = identities()
    chain = Chain(translation(IDENTIFY))
    await deliver(chain, fake, people, upserts=None)
    assert chain.calls == 4
    known = people.book.find(chain.translation.names.keys)
    assert known is not None
    assert known.accounts == ((1001, True),)
    forget(chain, None)  # nothing to forget without skip-unchanged
    assert chain.calls == 4


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
    empty, upserts, people = Empty(), UpsertMemory(3600), identities()
    for _ in range(2):
        chain = Chain(translation(TRACK))
        with pytest.raises(TranslationError):  # no person record: nobody to put it on
            await deliver(chain, empty, people, upserts)
    assert Step.PERSON not in chain.records
    assert len(upserts) == 0
    assert len(people.book) == 0
    assert empty.sent == ["contacts/upsert?include=sales_accounts"] * 2
