"""A chain delivered as the deliverer runs it: on the person the identity map knows, holding
their locks, linking the event's identities afterwards — without the engine around it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consumer.engine.chain import Chain, advance
from consumer.engine.memory.unchanged import UpsertMemory
from consumer.engine.people import Identities
from consumer.identity.book import Book
from consumer.identity.decide import Deliver
from tests.fakes.identities import FakeIdentityLog
from translate import Lookups, Step, id_key


def identities(*known: tuple[str, Mapping[str, object]]) -> Identities:
    """An identity map that knows each ``(userId, person record)`` of ``known``."""
    book = Book()
    for user_id, record in known:
        book.learn(record, firm=[id_key(user_id)])
    return Identities(book, FakeIdentityLog())


async def deliver(
    chain: Chain,
    caller: Any,
    people: Identities,
    lookups: Lookups,
    upserts: UpsertMemory | None = None,
) -> Chain:
    decision = people.decide(chain.translation)
    assert isinstance(decision, Deliver)
    holding = await people.hold(chain.translation, decision)
    try:
        if holding.record is not None and Step.PERSON not in chain.records:
            chain.records[Step.PERSON] = holding.record
            chain.remembered = True
        await advance(chain, caller, lookups, upserts, holding)
        await holding.settle(chain.translation)
    finally:
        holding.release()
    return chain
