"""Who an event is about, decided when its turn comes (MAPPING.md "identify", "Who an event is
about"): the person the identity map knows, an email to find them by, or — nobody known and no
email — it waits. And which identities a delivered event ties to its person."""

from __future__ import annotations

import asyncio

import pytest

from consumer.identity import locks
from consumer.identity.book import Book
from consumer.identity.decide import Deliver, Links, Suppress, Wait, decide, links
from consumer.identity.locks import Locks
from translate import Translation, email_key, id_key, translate_event

ADA, NEW = email_key("ada@example.com"), email_key("ada@new.example")
U1, ANON = id_key("u-1"), id_key("a7e0b1f2")


def book() -> Book:
    known = Book()
    known.learn({"id": 7}, firm=[ADA, U1], soft=[ANON])
    return known


def event(kind: str, **fields: object) -> Translation:
    base: dict[str, object] = {"type": kind, "timestamp": "2026-11-30T10:00:00Z"}
    if kind == "track":
        base["event"] = "Signed In"
    if kind == "group":
        base["traits"] = {"name": "Acme"}
    return translate_event({**base, **fields})


def person_of(decision: object) -> int | None:
    assert isinstance(decision, Deliver)
    return decision.person.id if decision.person is not None else None


@pytest.mark.parametrize(
    ("translation", "expected"),
    [
        (event("track", userId="u-1"), 7),
        (event("page", anonymousId="a7e0b1f2"), 7),  # a late page of a linked visitor
        (event("group", userId="u-1"), 7),
        (event("identify", userId="u-1", traits={"plan": "pro"}), 7),  # no email: by id
        (event("track", userId="ghost", anonymousId="a7e0b1f2"), 7),  # another id of theirs
        # An email finds the person: the map spares the call that would (7), or the event's
        # own upsert does (None) — never a wait.
        (event("track", userId="ghost", context={"traits": {"email": "ada@example.com"}}), 7),
        (event("track", userId="ghost", context={"traits": {"email": "bo@example.com"}}), None),
        (event("identify", userId="u-1", traits={"email": "Ada@Example.com"}), None),
        (event("identify", userId="u-new", traits={"email": "ada@example.com"}), None),
        (event("identify", anonymousId="x", traits={"email": "bo@example.com"}), None),
    ],
)
def test_an_event_of_someone_the_map_knows_or_with_an_email_is_delivered(
    translation: Translation, expected: int | None
) -> None:
    assert person_of(decide(translation, book())) == expected


def test_a_known_user_with_a_new_email_is_updated_by_id_not_created_twice() -> None:
    decision = decide(event("identify", userId="u-1", traits={"email": "ada@new.example"}), book())
    assert isinstance(decision, Deliver)
    assert (person_of(decision), decision.by_id) == (7, True)


@pytest.mark.parametrize(
    ("translation", "keys"),
    [
        (event("page", anonymousId="visitor"), (id_key("visitor"),)),
        (event("track", userId="ghost"), (id_key("ghost"),)),
        (event("track", userId="ghost", anonymousId="v"), (id_key("ghost"), id_key("v"))),
        (event("identify", userId="ghost", traits={"plan": "pro"}), (id_key("ghost"),)),
        (event("group", anonymousId="visitor"), (id_key("visitor"),)),
    ],
)
def test_an_event_of_nobody_known_and_without_an_email_waits_under_its_identities(
    translation: Translation, keys: tuple[bytes, ...]
) -> None:
    assert decide(translation, book()) == Wait(keys)


@pytest.mark.parametrize(
    ("translation", "by_id", "tied"),
    [
        (
            event("identify", userId="u-1", anonymousId="a", traits={"email": "ada@example.com"}),
            False,
            Links((ADA, U1), (id_key("a"),)),
        ),
        (
            event("identify", anonymousId="a", traits={"email": "ada@example.com"}),
            False,
            Links((ADA,), (id_key("a"),)),
        ),
        (
            event("track", userId="u-1", context={"traits": {"email": "ada@example.com"}}),
            False,
            Links((ADA,), (U1,)),
        ),
        (event("track", userId="u-1", anonymousId="u-1"), False, Links((), (U1,))),
        (event("track", userId="u-1"), True, Links((U1,), ())),
        (event("page", userId="null", anonymousId="a"), False, Links((), (id_key("a"),))),
    ],
)
def test_a_delivered_event_ties_its_identities_firm_where_freshsales_confirmed_them(
    translation: Translation, by_id: bool, tied: Links
) -> None:
    assert links(translation, by_id=by_id) == tied


async def test_a_persons_writes_never_run_at_once_and_locks_are_not_kept_after() -> None:
    held = Locks()
    order: list[str] = []

    async def chain(name: str, *names: locks.LockName) -> None:
        taken = await held.acquire(names)
        order.append(f"{name} in")
        await asyncio.sleep(0.01)
        order.append(f"{name} out")
        held.release(taken)

    await asyncio.gather(
        chain("a", locks.identity(U1), locks.person(7)),
        chain("b", locks.person(7)),
        chain("c", locks.identity(ANON)),
    )
    assert order.index("a out") < order.index("b in") or order.index("b out") < order.index("a in")
    assert len(held) == 0


async def test_a_chain_cancelled_while_it_waits_for_a_lock_leaves_nothing_held() -> None:
    held = Locks()
    first = await held.acquire([locks.person(7)])
    waiting = asyncio.ensure_future(held.acquire([locks.identity(U1), locks.person(7)]))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    held.release(first)
    assert len(held) == 0
    assert locks.identity(U1) < locks.person(0)  # identities before people: one order


async def test_a_released_lock_goes_to_whoever_waited_first() -> None:
    held = Locks()
    first = await held.acquire([locks.person(7)])
    order: list[str] = []

    async def waiter(name: str) -> None:
        taken = await held.acquire([locks.person(7)])
        order.append(name)
        held.release(taken)

    tasks = [asyncio.ensure_future(waiter(n)) for n in ("b", "c", "d")]
    await asyncio.sleep(0)
    held.release(first)
    await asyncio.gather(*tasks)
    assert order == ["b", "c", "d"]
    assert len(held) == 0


async def test_a_waiter_cancelled_as_the_lock_is_handed_to_it_passes_it_on() -> None:
    held = Locks()
    first = await held.acquire([locks.person(7)])
    cancelled = asyncio.ensure_future(held.acquire([locks.person(7)]))
    after = asyncio.ensure_future(held.acquire([locks.person(7)]))
    await asyncio.sleep(0)
    held.release(first)  # handed to the first waiter, which is cancelled before it runs
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    held.release(await after)
    assert len(held) == 0


async def test_a_waiter_cancelled_before_a_release_is_dropped_from_the_line() -> None:
    held = Locks()
    first = await held.acquire([locks.person(7)])
    cancelled = asyncio.ensure_future(held.acquire([locks.person(7)]))
    await asyncio.sleep(0)
    cancelled.cancel()
    held.release(first)  # drops the cancelled waiter before its own clean-up runs
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert len(held) == 0


@pytest.mark.parametrize(
    ("translation", "suppressed"),
    [
        (event("track", userId="u-1"), True),
        (event("identify", userId="u-new", traits={"email": "ada@example.com"}), True),
        (event("page", anonymousId="a7e0b1f2"), True),  # the forgotten person's browser
        # A new user on that browser: their own userId or email names them, not the browser.
        (event("page", userId="u-2", anonymousId="a7e0b1f2"), False),
        (event("identify", anonymousId="a7e0b1f2", traits={"email": "bo@example.com"}), False),
        (event("track", userId="u-2"), False),
    ],
)
def test_an_event_of_a_forgotten_person_is_suppressed_and_a_new_user_on_their_browser_is_not(
    translation: Translation, suppressed: bool
) -> None:
    known = book()
    known.forget(U1, [U1], [(7, False)])
    decision = decide(translation, known)
    assert isinstance(decision, Suppress) is suppressed
