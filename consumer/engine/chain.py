"""Carrying out one event's requests in order, resumable after a failure.

A translation is a chain (account → person → link → deal; person → activity → lifecycle;
person → account → link). Each answer feeds later requests (``translate.plan``) and decides
whether a later one is needed at all (``translate.needless``). When a call fails, the steps
already answered are kept, so a retry starts at the failed step: a transient error on the deal
does not repeat the account and person upserts, which would spend the account's small quota
twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from consumer.engine.memory.identities import IdentityCache
from consumer.engine.memory.unchanged import UpsertMemory
from consumer.freshsales.answers import Caller
from translate import Lookups, Skip, Step, Translation, materialize, needless, step_record


@dataclass
class Chain:
    """One event's progress: which request is next and what earlier answers said."""

    translation: Translation
    next_step: int = 0
    calls: int = 0
    lookups_saved: int = 0
    """Person look-ups the identity cache answered."""
    unchanged: int = 0
    """Upserts not sent because the same write was delivered recently, and links already in
    place."""
    remembered: bool = False
    """A record came from memory (the identity cache or skip-unchanged), not from an answer:
    when a later call is refused, that memory may be stale (the record deleted in Freshsales)."""
    records: dict[Step, Mapping[str, object]] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.next_step >= len(self.translation.requests)


async def advance(
    chain: Chain,
    caller: Caller,
    lookups: Lookups,
    people: IdentityCache,
    upserts: UpsertMemory | None = None,
) -> None:
    """Send the chain's remaining requests. Raises the failing call's error; ``chain`` then says
    where to resume. Raises TranslationError when a required value is missing."""
    translation = chain.translation
    if chain.next_step == 0 and Step.PERSON not in chain.records:
        known = people.get(translation.identity)
        if known is not None:
            chain.records[Step.PERSON] = known
            chain.remembered = True
    requests = translation.requests
    while chain.next_step < len(requests):
        request = requests[chain.next_step]
        skip = needless(request, chain.records)
        if skip is Skip.KNOWN:
            chain.lookups_saved += 1
        elif skip is Skip.IN_PLACE:
            chain.unchanged += 1
        elif skip is None:  # (Skip.NOT_FOR_PERSON: meant for another kind of person; no count)
            path, body = materialize(request, chain.records, lookups)
            record: Mapping[str, object] | None = (
                upserts.recall(request.method, path, body) if upserts else None
            )
            if record is not None:
                chain.unchanged += 1
                chain.remembered = True
            else:
                chain.calls += 1
                sent = None if request.method == "GET" else body
                answer = await caller.call(request.method, path, sent)
                record = step_record(request, answer.body)
                if upserts is not None:
                    if record is not None:
                        upserts.remember(request.method, path, body, record)
                    if request.step is Step.LINK and record is not None:
                        # Only the accounts changed: an identical identify is still unchanged,
                        # and must answer with the accounts as they are now.
                        upserts.refresh_written(path, record)
                    elif request.method == "PUT":
                        upserts.forget_written(path)
            if record is not None:
                chain.records[request.step] = record
                if request.step is Step.PERSON or request.step is Step.LINK:
                    people.put(translation.identity, record)
        chain.next_step += 1


def forget(chain: Chain, people: IdentityCache, upserts: UpsertMemory | None) -> None:
    """Drop what memory said about this chain's records, so the next try asks Freshsales."""
    translation = chain.translation
    people.forget(translation.identity)
    if upserts is None:
        return
    for request in translation.requests:
        record = chain.records.get(request.step)
        if record is not None and "id" in record:
            upserts.forget_written(f"{request.path.partition('/')[0]}/{record['id']}")
