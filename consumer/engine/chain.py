"""Carrying out one event's requests in order, resumable after a failure.

A translation is a chain (account → person → link → deal; person → activity → lifecycle;
person → account → link). Each answer feeds later requests (``translate.plan``) and decides
whether a later one is needed at all (``translate.needless``). When a call fails, the steps
already answered are kept, so a retry starts at the failed step: a transient error on the deal
does not repeat the account and person upserts, which would spend the account's small quota
twice.

Who the person is comes from the identity map (``People``): a chain may start with the person
already known, every answer that names them is learned at once, and each request is built on the
latest that is known of them — another chain of the same person (under another identity) may
have linked an account meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from consumer.engine.memory.unchanged import UpsertMemory
from consumer.freshsales.answers import Caller
from translate import Lookups, Skip, Step, Translation, materialize, needless, step_record


class People(Protocol):
    """The identity map as a chain sees it."""

    def latest(self, record: Mapping[str, object]) -> Mapping[str, object]:
        """The person of ``record`` as last known (``record`` itself when not in the map)."""

    async def met(self, record: Mapping[str, object], *, fresh: bool) -> Mapping[str, object]:
        """An answer named the person (``fresh``; else a remembered answer): learn it, make sure
        no other chain writes them meanwhile, and return them as now known."""


@dataclass
class Chain:
    """One event's progress: which request is next and what earlier answers said."""

    translation: Translation
    next_step: int = 0
    calls: int = 0
    lookups_saved: int = 0
    """Person look-ups the identity map answered."""
    unchanged: int = 0
    """Upserts not sent because the same write was delivered recently, and links already in
    place."""
    remembered: bool = False
    """A record came from memory (the identity map or skip-unchanged), not from an answer:
    when a later call is refused, that memory may be stale (the record deleted in Freshsales)."""
    records: dict[Step, Mapping[str, object]] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.next_step >= len(self.translation.requests)


_PERSON, _LINK = Step.PERSON, Step.LINK


async def advance(
    chain: Chain,
    caller: Caller,
    lookups: Lookups,
    upserts: UpsertMemory | None = None,
    people: People | None = None,
) -> None:
    """Send the chain's remaining requests. Raises the failing call's error; ``chain`` then says
    where to resume. Raises TranslationError when a required value is missing."""
    requests = chain.translation.requests
    records = chain.records
    while chain.next_step < len(requests):
        request = requests[chain.next_step]
        if people is not None and _PERSON in records:
            records[_PERSON] = people.latest(records[_PERSON])
        skip = needless(request, records)
        if skip is Skip.KNOWN:
            chain.lookups_saved += 1
        elif skip is Skip.IN_PLACE:
            chain.unchanged += 1
        elif skip is None:  # (Skip.NOT_FOR_PERSON: meant for another kind of person; no count)
            path, body = materialize(request, records, lookups)
            record: Mapping[str, object] | None = (
                upserts.recall(request.method, path, body) if upserts else None
            )
            fresh = record is None
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
                    if request.step is _LINK and record is not None:
                        # Only the accounts changed: an identical identify is still unchanged,
                        # and must answer with the accounts as they are now.
                        upserts.refresh_written(path, record)
                    elif request.method == "PUT":
                        upserts.forget_written(path)
            if record is not None:
                if request.step is _PERSON or request.step is _LINK:
                    if people is not None:
                        record = await people.met(record, fresh=fresh)
                    records[_PERSON] = record
                records[request.step] = record
        chain.next_step += 1


def forget(chain: Chain, upserts: UpsertMemory | None) -> None:
    """Drop what skip-unchanged said about this chain's records, so the next try asks
    Freshsales. (The identity map's part is the deliverer's: it may have to be written.)"""
    if upserts is None:
        return
    for request in chain.translation.requests:
        record = chain.records.get(request.step)
        if record is not None and "id" in record:
            upserts.forget_written(f"{request.path.partition('/')[0]}/{record['id']}")
