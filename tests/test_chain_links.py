"""A group's calls: the person found once, their accounts kept, nothing in place written again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consumer.engine.chain import Chain
from consumer.engine.memory.unchanged import UpsertMemory
from consumer.freshsales.answers import Answer
from tests.identity_support import deliver, identities
from translate import Flavor, Options, Translation, id_key, translate_event


class Crm:
    """A small Freshsales: ids count up, a person's accounts are what was last written."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []
        self.accounts: dict[int, list[Any]] = {}

    async def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None
    ) -> Answer:
        self.sent.append((method, path, body))
        bare, _, query = path.partition("?")
        module, _, known = bare.partition("/")
        envelope = {"sales_accounts": "sales_account", "leads": "lead"}.get(module, "contact")
        ident = int(known) if known.isdigit() else 100 + len(self.sent)
        record: dict[str, Any] = {"id": ident, "owner_id": 5}
        written: Any = (body or {}).get(envelope, {})
        if "sales_accounts" in written:
            self.accounts[ident] = written["sales_accounts"]
        if query == "include=sales_accounts":
            record["sales_accounts"] = self.accounts.get(ident, [])
        return Answer(200, {envelope: record})


def group(name: str, **event: Any) -> Translation:
    return translate_event({"type": "group", "userId": "u1", "traits": {"name": name}, **event})


async def test_a_known_persons_group_costs_the_account_and_the_link_and_its_repeat_nothing() -> (
    None
):
    crm, upserts = Crm(), UpsertMemory(3600)
    people = identities(
        ("u1", {"id": 7, "targetable_type": "Contact", "sales_accounts": ((1, True),)})
    )
    crm.accounts[7] = [{"id": 1, "is_primary": True}]
    first = await deliver(Chain(group("Globex")), crm, people, {}, upserts)
    repeat = await deliver(Chain(group("Globex")), crm, people, {}, upserts)

    assert [(m, p) for m, p, _ in crm.sent] == [
        ("POST", "sales_accounts/upsert"),
        ("PUT", "contacts/7?include=sales_accounts"),
    ]
    assert crm.accounts[7] == [{"id": 1, "is_primary": True}, {"id": 101, "is_primary": False}]
    assert (first.calls, first.lookups_saved) == (2, 1)
    assert (repeat.calls, repeat.lookups_saved, repeat.unchanged) == (0, 1, 2)  # account + link
    known = people.book.owner_of(id_key("u1"))
    assert known is not None
    assert known.accounts == ((1, True), (101, False))


async def test_a_known_person_whose_accounts_are_unknown_is_read_without_a_body() -> None:
    crm = Crm()
    people = identities(("u1", {"id": 7, "targetable_type": "Contact"}))  # accounts not known
    crm.accounts[7] = [{"id": 1, "is_primary": True}]
    await deliver(Chain(group("Globex")), crm, people, {})

    method, path, body = crm.sent[0]
    assert (method, path, body) == ("GET", "contacts/7?include=sales_accounts", None)
    assert crm.accounts[7][0] == {"id": 1, "is_primary": True}  # still there after the link


async def test_on_classic_a_known_lead_gets_the_company_and_the_contact_path_costs_nothing() -> (
    None
):
    crm = Crm()
    people = identities(("u1", {"id": 7, "targetable_type": "Lead"}))
    chain = Chain(
        translate_event(
            {"type": "group", "userId": "u1", "traits": {"name": "Globex"}},
            Options(flavor=Flavor.CLASSIC),
        )
    )
    await deliver(chain, crm, people, {})

    assert [(m, p) for m, p, _ in crm.sent] == [("PUT", "leads/7")]
    assert crm.sent[0][2] == {"lead": {"company": {"name": "Globex"}}}
    # Not "saved": the request was not for her kind of person.
    assert (chain.calls, chain.lookups_saved, chain.unchanged) == (1, 0, 0)
