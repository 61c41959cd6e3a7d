"""The right to be forgotten: a deletion request erases the person from Freshsales and keeps
them erased.

One request — Segment's ``delete`` message on the topic, or ``freshsales-destination forget`` —
names an identity (a userId, an email, an anonymousId). Every Freshsales person it names is
forgotten: the people the identity map knows by it, and, for an email, whoever Freshsales finds
by it (``filtered_search``). Forgetting is ``DELETE …/contacts/{id}/forget`` (a Classic lead:
``…/leads/{id}/forget``), the irreversible purge with the person's activities — not a plain
``DELETE``, which only moves a record to a recycle bin for 90 days. A 404 is a person already
gone: done. A 403 is a refusal (an admin may bar the key's user from forgetting): reported,
never retried in a loop. 429s and 5xx are retried like any call; the calls go first in the
quota (a legal deadline, not a page view).

Every identity of theirs — the one the request named, their emails, userIds and linked
anonymousIds, as hashes — is suppressed, in the identity topic: from then on, on every replica
and after every restart, their events are acknowledged and counted ``suppressed``, never
delivered, never recreating the person; what waited for them is discarded. The suppression is
written before the erasing calls, so that a replica that reads it stops delivering for them
while they are erased (what it delivered just before goes with them); and it names the people
it erases, and is written again once they all are (``done``), so that the same request again —
a replay, the command run again after a refusal or a crash half-way — erases whom it had not
erased yet and calls nobody for the rest (``already_forgotten``). They stay suppressed even
when Freshsales refused to forget them: the service stops sending their data either way.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from consumer.engine.people import Identities
from consumer.engine.policy import Attempt, Retry, RetryPolicy, decide
from consumer.errors import AccessDenied, RejectedError, TransientError
from consumer.freshsales.answers import Caller
from consumer.freshsales.budget import URGENT, Abandoned, prioritized
from consumer.identity import locks
from consumer.identity.entries import ForgottenEntry
from translate import DestinationError, Flavor, Key, Names, Reason

FORGOTTEN: Final = "forgotten"
ALREADY_GONE: Final = "already_gone"
ALREADY_FORGOTTEN: Final = "already_forgotten"
"""Erased by the same request before (a replay, the command run again): no call."""
WOULD_FORGET: Final = "would_forget"

KeyRefused = Callable[[DestinationError], Awaitable[bool]]
"""What to do when Freshsales refuses the key itself (401): True to try again once it is
accepted (the service waits for that), False to give up (the command reports it)."""


@dataclass(frozen=True, slots=True)
class Erased:
    """One Freshsales person a request named, and what became of them."""

    id: int
    lead: bool
    outcome: str


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What one deletion request came to (no personal data: the identity is a hash)."""

    identity: str
    """The first hex digits of the hash of the identity the request named."""
    people: tuple[Erased, ...] = ()
    reason: Reason | None = None
    error: DestinationError | None = None
    abandoned: bool = False
    dry_run: bool = False

    @property
    def outcome(self) -> str:
        if self.abandoned:
            return "abandoned"
        if self.reason is Reason.FORGET_REFUSED:
            return "refused"
        if self.reason is not None:
            return "failed"
        if self.dry_run:
            return "would_forget" if self.people else "nobody_found"
        return FORGOTTEN if self.people else "nobody_found"

    def fields(self) -> dict[str, object]:
        """The audit: the hashed identity, the Freshsales ids, what became of each (and why the
        request failed: Freshsales' answer, which names no person)."""
        fields: dict[str, object] = {
            "identity": self.identity,
            "outcome": self.outcome,
            "people": [
                {"id": p.id, "kind": "lead" if p.lead else "contact", "outcome": p.outcome}
                for p in self.people
            ],
        }
        if self.reason is not None:
            fields["reason"] = self.reason.value
        if self.error is not None:
            fields["error"] = str(self.error)[:300]
        return fields


@dataclass
class Forgetter:
    caller: Caller
    identities: Identities
    flavor: Flavor
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    key_refused: KeyRefused | None = None

    async def forget(
        self, names: Names, *, dry_run: bool = False, abandoned: Callable[[], bool] = lambda: False
    ) -> ForgetReport:
        """Erase the people ``names`` name and suppress their identities; with ``dry_run``, only
        find them (the search by email is a call, nothing is written)."""
        keys = names.keys
        request = keys[0]
        identity = request.hex()[:12]
        prioritized(URGENT)  # before anybody's activities in the quota: a legal deadline
        book = self.identities.book
        named = [locks.identity(k) for k in keys]
        named += [locks.person(p.key) for k in keys if (p := book.owner_of(k)) is not None]
        held = await self.identities.locks.acquire(named)
        try:
            people = {(p.id, p.lead) for k in keys if (p := book.owner_of(k)) is not None}
            before, done_before = book.erased_by(request)
            gone = set(before) if done_before else set()
            people.update(before)
            failure: tuple[Reason, DestinationError] | None = None
            if names.email is not None:
                found = await self._search(names.email, abandoned)
                if isinstance(found, ForgetReport):
                    return ForgetReport(identity, abandoned=True)
                people |= found[0]
                failure = found[1]
            if dry_run:
                erased = tuple(
                    Erased(i, lead, ALREADY_FORGOTTEN if (i, lead) in gone else WOULD_FORGET)
                    for i, lead in sorted(people)
                )
                reason, error = failure if failure is not None else (None, None)
                return ForgetReport(identity, erased, reason, error, dry_run=True)
            # Suppressed first, erased then: a replica that reads the record stops delivering
            # for them, so what it delivered just before is erased with them.
            entry: ForgottenEntry = book.forget(request, keys, people, done=people <= gone)
            await self.identities.write([entry])
            erased_list: list[Erased] = []
            for ident, lead in sorted(people):
                if (ident, lead) in gone:  # this request erased them before: no call
                    erased_list.append(Erased(ident, lead, ALREADY_FORGOTTEN))
                    continue
                outcome = await self._erase(ident, lead, abandoned)
                if isinstance(outcome, ForgetReport):
                    return ForgetReport(identity, tuple(erased_list), abandoned=True)
                if isinstance(outcome, tuple):
                    failure = failure or outcome
                    erased_list.append(Erased(ident, lead, outcome[0].value))
                else:
                    erased_list.append(Erased(ident, lead, outcome))
            if failure is None and not entry.done:
                # Carried out whole: the same request again finds nobody left to erase.
                done = ForgottenEntry(entry.request, entry.keys, entry.people, done=True)
                book.apply(done)
                await self.identities.write([done])
            reason, error = failure if failure is not None else (None, None)
            return ForgetReport(identity, tuple(erased_list), reason, error)
        finally:
            self.identities.locks.release(held)

    async def undo(self, names: Names, *, dry_run: bool = False) -> bool:
        """``forget --undo``: the deletion request that suppresses the identity ``names`` give
        suppresses nothing any more. False when that identity is not suppressed; with
        ``dry_run``, whether it is (nothing written)."""
        book = self.identities.book
        key = names.keys[0]
        if dry_run:
            return book.is_suppressed(key)
        entry = book.unsuppress(key)
        if entry is None:
            return False
        await self.identities.write([entry])
        return True

    async def _search(
        self, email: str, abandoned: Callable[[], bool]
    ) -> tuple[set[tuple[int, bool]], tuple[Reason, DestinationError] | None] | ForgetReport:
        """Whoever Freshsales finds by the email (contacts; on Classic leads too), and why a
        search failed: a person it could not look for may still be in Freshsales, so the
        request is not done (what it did find is forgotten all the same)."""
        found: set[tuple[int, bool]] = set()
        failure: tuple[Reason, DestinationError] | None = None
        modules = [("contact", False)] + ([("lead", True)] if self.flavor is Flavor.CLASSIC else [])
        for module, lead in modules:
            body = {
                "filter_rule": [
                    {"attribute": f"{module}_email.email", "operator": "is_in", "value": [email]}
                ]
            }
            answer = await self._call("POST", f"filtered_search/{module}", body, abandoned)
            if isinstance(answer, ForgetReport):
                return answer
            if isinstance(answer, tuple):
                failure = failure or answer
                continue
            records = answer.get(f"{module}s")
            for record in records if isinstance(records, list) else ():
                ident = record.get("id") if isinstance(record, Mapping) else None
                if isinstance(ident, int) and not isinstance(ident, bool):
                    found.add((ident, lead))
        return found, failure

    async def _erase(
        self, ident: int, lead: bool, abandoned: Callable[[], bool]
    ) -> str | tuple[Reason, DestinationError] | ForgetReport:
        path = f"{'leads' if lead else 'contacts'}/{ident}/forget"
        answer = await self._call("DELETE", path, None, abandoned, gone_is_done=True)
        if isinstance(answer, ForgetReport | tuple):
            return answer
        return ALREADY_GONE if answer.get("__gone__") else FORGOTTEN

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, object] | None,
        abandoned: Callable[[], bool],
        *,
        gone_is_done: bool = False,
    ) -> Mapping[str, object] | tuple[Reason, DestinationError] | ForgetReport:
        """One call, retried as deliveries are; a refusal for good comes back as its reason."""
        number = 0
        first_failure: float | None = None
        while True:
            if abandoned():
                return ForgetReport("", abandoned=True)
            number += 1
            try:
                return (await self.caller.call(method, path, body)).body
            except Abandoned:
                return ForgetReport("", abandoned=True)
            except RejectedError as error:
                if gone_is_done and error.status == 404:
                    return {"__gone__": True}
                return Reason.REJECTED, error
            except AccessDenied as error:
                if error.status == 403:  # the key's user may not forget: an admin's choice
                    return Reason.FORGET_REFUSED, error
                if self.key_refused is None or not await self.key_refused(error):
                    return Reason.REJECTED, error
            except TransientError as error:
                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                facts = Attempt(number=number, failing_for_s=now - first_failure)
                decision = decide(error, facts, self.policy, random.random())
                if not isinstance(decision, Retry):
                    return Reason.RETRIES_EXHAUSTED, error
                await asyncio.sleep(decision.delay_s)
            except DestinationError as error:  # a redirect: the base URL points elsewhere
                if self.key_refused is None or not await self.key_refused(error):
                    return Reason.REJECTED, error


def request_key(names: Names) -> Key:
    """The identity a request is known by (for ``--undo``): its email, else userId, else
    anonymousId — hashed."""
    return names.keys[0]
