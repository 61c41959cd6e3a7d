"""The right to be forgotten, on the engine with in-memory Kafka and Freshsales: a deletion
request erases the person and suppresses every identity of theirs, so that nothing of them is
delivered again and nothing recreates them."""

from __future__ import annotations

from dataclasses import replace

from consumer.engine.forgetting import Forgetter
from consumer.engine.intake import work_from
from consumer.engine.offsets import PartitionOffsets
from consumer.engine.waitroom import WaitRules
from consumer.errors import AccessDenied, RejectedError, TransientError
from consumer.freshsales.budget import URGENT
from consumer.identity.book import Book
from consumer.identity.entries import ForgottenEntry, PersonEntry
from tests.engine_support import OPTIONS, Rig, rig, running
from tests.fakes.freshsales import Call
from translate import Flavor, Names, email_key, id_key

ADA, U1, ANON = email_key("ada@example.com"), id_key("4711"), id_key("a7e0b1f2")


def known() -> Book:
    book = Book()
    book.apply(PersonEntry(42, False, 900, (), (ADA, U1), (ANON,)))
    return book


def delete(**names: object) -> dict[str, object]:
    return {"type": "delete", "messageId": "delete-1", **names}


def forgets(r: Rig) -> list[str]:
    return [c.path for c in r.freshsales.calls if c.method == "DELETE"]


async def test_a_delete_message_forgets_the_person_and_suppresses_every_identity_of_theirs() -> (
    None
):
    r = rig(book=known())
    r.source.produce(delete(userId="4711"), key=b"4711")
    async with running(r):
        await r.until_finished(1)
        later: list[dict[str, object]] = [
            {"type": "identify", "userId": "4711", "traits": {"email": "ada@example.com"}},
            {"type": "track", "userId": "4711", "event": "Report Exported"},
            {"type": "page", "anonymousId": "a7e0b1f2", "name": "Pricing"},
            {"type": "identify", "userId": "99", "traits": {"email": "ada@example.com"}},
        ]
        for event in later:
            r.source.produce(event, key=b"later")
        await r.until_finished(5)
    assert forgets(r) == ["contacts/42/forget"]
    assert r.stats.outcomes == {"forgotten": 1, "suppressed": 4}
    assert len(r.freshsales.calls) == 1  # nothing recreated, nothing sent for them
    # Suppressed before the erasing call, then marked done once Freshsales erased her.
    first, done = [e for e in r.identity_log.written if isinstance(e, ForgottenEntry)]
    assert (first.request, set(first.keys), first.people) == (U1, {U1, ADA, ANON}, ((42, False),))
    assert (first.done, done) == (False, replace(first, done=True))
    assert r.book.find([ADA, U1, ANON]) is None
    assert r.stats.forgets == {"forgotten": 1}


async def test_what_waited_for_a_forgotten_person_is_discarded_not_delivered() -> None:
    r = rig(wait=WaitRules(grace_s=60))  # named or not, nothing of it may go
    for n in range(2):
        r.source.produce({"type": "page", "anonymousId": "v-1", "name": f"P{n}"}, key=b"v-1")
    async with running(r):
        await r.until(lambda: r.room.events == 2, "the visitor's pages waiting")
        r.source.produce(delete(anonymousId="v-1"), key=b"v-1")
        await r.until(lambda: r.stats.after_wait["suppressed"] == 2, "the pages discarded")
    assert r.freshsales.calls == []  # nobody known: nothing to erase, nothing delivered
    assert r.stats.forgets == {"nobody_found": 1}
    assert r.waiting.marks == [(0, (0, 1))]
    assert r.letters.letters == []


async def test_a_person_already_gone_is_forgotten_all_the_same() -> None:
    r = rig(book=known())
    r.freshsales.fail(RejectedError("answered 404", status=404), path="contacts/42/forget")
    r.source.produce(delete(userId="4711"), key=b"4711")
    async with running(r):
        await r.until_finished(1)
    assert r.stats.outcomes == {"forgotten": 1}
    assert r.letters.letters == []


async def test_a_refusal_to_forget_is_dead_lettered_once_and_the_person_still_suppressed() -> None:
    r = rig(book=known())
    refusal = AccessDenied("answered 403", status=403, messages=("You may not forget records",))
    r.freshsales.fail(refusal, path="contacts/42/forget", times=5)
    r.source.produce(delete(userId="4711"), key=b"4711")
    r.source.produce({"type": "track", "userId": "4711", "event": "E"}, key=b"4711")
    async with running(r):
        await r.until_finished(2)
    assert forgets(r) == ["contacts/42/forget"]  # never retried in a loop
    (letter,) = r.letters.letters
    assert letter.reason.value == "forget_refused"
    assert "You may not forget records" in str(letter.error)
    assert r.standing.refusals == []  # the key itself is fine: delivery goes on
    assert r.stats.outcomes == {"dead_lettered": 1, "suppressed": 1}


async def test_a_failing_freshsales_is_retried_and_the_forget_goes_first() -> None:
    r = rig(book=known())
    r.freshsales.fail(TransientError("answered 503", status=503), path="contacts/42/forget")
    record = r.source.produce(delete(userId="4711"), key=b"4711")
    async with running(r):
        await r.until_finished(1)
    assert forgets(r) == ["contacts/42/forget"] * 2
    assert r.stats.outcomes == {"forgotten": 1}
    # A legal deadline, not a page view: first in line, like a new lead.
    work = work_from(record, PartitionOffsets(0), OPTIONS)
    assert r.deliverer.priority(work) == URGENT


async def test_a_delete_by_email_also_forgets_whoever_freshsales_finds_by_it() -> None:
    r = rig()
    r.freshsales.answers["filtered_search/contact"] = {"contacts": [{"id": 7}, {"id": 8}]}
    r.source.produce(delete(traits={"email": "bo@example.com"}), key=b"bo")
    async with running(r):
        await r.until_finished(1)
    search = [c for c in r.freshsales.calls if c.method == "POST"]
    assert [c.path for c in search] == ["filtered_search/contact"]
    assert search[0].body == {
        "filter_rule": [
            {"attribute": "contact_email.email", "operator": "is_in", "value": ["bo@example.com"]}
        ]
    }
    assert sorted(forgets(r)) == ["contacts/7/forget", "contacts/8/forget"]
    assert r.book.is_suppressed(email_key("bo@example.com"))


async def test_undo_lifts_the_suppression_and_the_next_identify_creates_the_person_anew() -> None:
    r = rig(book=known())
    r.source.produce(delete(userId="4711"), key=b"4711")
    async with running(r):
        await r.until_finished(1)
        forgetter = Forgetter(r.freshsales, r.deliverer.identities, Flavor.SUITE)
        assert await forgetter.undo(Names(user_id="4711"))
        assert not await forgetter.undo(Names(user_id="never-forgotten"))
        r.source.produce(
            {"type": "identify", "userId": "4711", "traits": {"email": "ada@example.com"}},
            key=b"4711",
        )
        await r.until_finished(2)
    assert r.stats.outcomes == {"forgotten": 1, "delivered": 1}
    assert [c.path for c in r.freshsales.calls][-1].startswith("contacts/upsert")


async def test_the_same_request_again_calls_nobody_once_it_was_carried_out_whole() -> None:
    # A replay of the delete, or the command run for the same person: the map no longer knows
    # her; the request's own record says she was erased.
    r = rig(book=known())
    r.source.produce(delete(userId="4711"), key=b"4711")
    r.source.produce(delete(userId="4711"), key=b"4711")
    async with running(r):
        await r.until_finished(2)
    assert forgets(r) == ["contacts/42/forget"]
    assert r.stats.forgets == {"forgotten": 2}
    assert r.letters.letters == []


async def test_a_request_cut_short_is_carried_out_again_by_the_same_request() -> None:
    # Refused (an admin barred forgetting), then allowed and replayed: the map no longer knows
    # her, the request's own record names whom it still has to erase.
    r = rig(book=known())
    refusal = AccessDenied("answered 403", status=403, messages=("You may not forget records",))
    r.freshsales.fail(refusal, path="contacts/42/forget")
    r.source.produce(delete(userId="4711"), key=b"4711")
    async with running(r):
        await r.until_finished(1)
        r.source.produce(delete(userId="4711"), key=b"4711")
        await r.until_finished(2)
    assert forgets(r) == ["contacts/42/forget"] * 2
    assert r.stats.forgets == {"refused": 1, "forgotten": 1}


async def test_the_suppression_is_written_before_the_erasing_call() -> None:
    # A replica that reads it stops delivering for her while she is erased.
    r = rig(book=known())
    written_before: list[bool] = []

    async def before(call: Call) -> None:
        written_before.append(any(isinstance(e, ForgottenEntry) for e in r.identity_log.written))

    r.freshsales.before = before
    r.source.produce(delete(userId="4711"), key=b"4711")
    async with running(r):
        await r.until_finished(1)
    assert written_before == [True]


async def test_a_search_that_fails_fails_the_request_and_what_it_knew_is_erased_anyway() -> None:
    r = rig(book=known())
    r.freshsales.fail(
        AccessDenied("answered 403", status=403, messages=("no access",)),
        path="filtered_search/contact",
    )
    r.source.produce(delete(traits={"email": "ada@example.com"}), key=b"ada")
    async with running(r):
        await r.until_finished(1)
    assert forgets(r) == ["contacts/42/forget"]  # known by the map: erased
    (letter,) = r.letters.letters  # whoever else Freshsales holds by the email: not looked for
    assert letter.reason.value == "forget_refused"
    assert r.book.is_suppressed(ADA)
