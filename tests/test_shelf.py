"""What waits on one partition of the waiting topic: held by identity, taken when their person is
named or their wait is over, bounded per identity and in all."""

from __future__ import annotations

from consumer.identity.shelf import Held, Shelf
from translate import id_key

VISITOR, USER, OTHER = id_key("a7e0b1f2"), id_key("u-1"), id_key("a-other")


def shelf_of(*events: tuple[tuple[bytes, ...], int, int]) -> Shelf:
    shelf = Shelf()
    for keys, offset, since in events:
        shelf.add(keys, offset, since, "page", False)
    return shelf


def test_events_wait_by_identity_in_order_and_go_together() -> None:
    shelf = shelf_of(((VISITOR,), 3, 100), ((OTHER,), 4, 110), ((VISITOR,), 7, 120))
    assert (shelf.events, shelf.identities, VISITOR in shelf) == (3, 2, True)
    assert [h.offset for h in shelf.held(VISITOR)] == [3, 7]
    taken = shelf.take(VISITOR)
    assert taken == [Held(3, 100, "page", False), Held(7, 120, "page", False)]
    assert (shelf.events, VISITOR in shelf, shelf.keys()) == (1, False, [OTHER])
    assert shelf.take(VISITOR) == []
    assert shelf.held(VISITOR) == []


def test_what_a_kept_event_is_survives_the_shelf() -> None:
    shelf = Shelf()
    shelf.add((USER,), 9, 1_796_000_000_000, "identify", True)
    shelf.add((USER,), 10, 1_796_000_000_001, "unheard-of", False)
    assert shelf.held(USER) == [
        Held(9, 1_796_000_000_000, "identify", True),
        Held(10, 1_796_000_000_001, "track", False),  # an unknown kind reads as an activity
    ]


def test_an_event_waiting_under_two_identities_goes_with_whichever_is_named_first() -> None:
    shelf = shelf_of(((USER, VISITOR), 5, 100), ((VISITOR,), 6, 101), ((USER, USER), 8, 102))
    assert shelf.events == 3
    assert [h.offset for h in shelf.take(VISITOR)] == [5, 6]
    assert [h.offset for h in shelf.held(USER)] == [8, 8]  # the same key twice: one pair
    assert shelf.events == 1


def test_only_the_offsets_asked_for_are_taken() -> None:
    shelf = shelf_of(((VISITOR,), 1, 100), ((VISITOR,), 2, 100), ((USER, VISITOR), 3, 100))
    assert [h.offset for h in shelf.take(VISITOR, [1, 3])] == [1, 3]
    assert [h.offset for h in shelf.held(VISITOR)] == [2]
    assert shelf.held(USER) == []
    assert shelf.events == 1


def test_the_oldest_events_of_an_identity_past_its_limit_are_named() -> None:
    shelf = shelf_of(*(((VISITOR,), n, 100 + n) for n in range(5)))
    assert shelf.oldest_beyond(VISITOR, 3) == [0, 1]
    assert shelf.oldest_beyond(VISITOR, 5) == []
    assert shelf.oldest_beyond(USER, 1) == []


def test_events_whose_wait_is_over_are_due_and_nothing_is_scanned_before_it_can_be() -> None:
    shelf = shelf_of(((VISITOR,), 1, 100), ((VISITOR,), 2, 300), ((OTHER,), 3, 150))
    assert list(shelf.due(100)) == []
    assert dict(shelf.due(200)) == {OTHER: [3], VISITOR: [1]}
    shelf.take(VISITOR, [1])
    shelf.take(OTHER, [3])
    assert list(shelf.due(250)) == []  # the earliest left is 300: no scan at all
    assert list(shelf.due(301)) == [(VISITOR, [2])]
    assert list(Shelf().due(10**15)) == []


def test_the_longest_waiting_events_are_named_when_too_many_wait() -> None:
    shelf = shelf_of(
        ((VISITOR,), 1, 300), ((OTHER,), 2, 100), ((USER, VISITOR), 3, 200), ((OTHER,), 4, 400)
    )
    assert dict(shelf.oldest_events(2)) == {OTHER: [2], VISITOR: [3]}
    assert sum(len(o) for _, o in shelf.oldest_events(10)) == 4  # each event once


def test_of_an_identitys_events_only_those_past_their_wait_are_due() -> None:
    shelf = shelf_of(((VISITOR,), 1, 100), ((VISITOR,), 2, 300), ((VISITOR,), 3, 200))
    assert dict(shelf.due(250)) == {VISITOR: [1, 3]}
    shelf.take(VISITOR, [1, 3])
    assert dict(shelf.due(301)) == {VISITOR: [2]}


def test_identities_with_nothing_due_are_passed_over_and_the_earliest_left_is_kept() -> None:
    shelf = shelf_of(
        ((VISITOR,), 1, 100), ((OTHER,), 2, 500), ((OTHER,), 3, 400), ((OTHER,), 4, 450)
    )
    assert dict(shelf.due(200)) == {VISITOR: [1]}
    shelf.take(VISITOR)
    assert list(shelf.due(401)) == [(OTHER, [3])]
