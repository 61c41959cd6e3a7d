"""The waiting room on its own: what it makes of the waiting topic's records, and when the events
held there go — to their person, or nowhere."""

from __future__ import annotations

import asyncio

from consumer.engine import parcel
from consumer.engine.offsets import PartitionOffsets
from consumer.engine.source import Partition, Record
from consumer.engine.waitroom import WaitingRoom, WaitRules
from consumer.engine.work import OVER, Work
from consumer.identity.book import Book
from translate import id_key

TOPIC = "g.waiting"
P0 = Partition(TOPIC, 0)
VISITOR, OTHER = id_key("visitor"), id_key("other")


def kept(offset: int, key: bytes = VISITOR, since_ms: int = 1_000, user: bool = False) -> Record:
    source = Record("events", 0, 100 + offset, b"k", b'{"type":"page"}')
    mark, value, headers = parcel.keep(
        source, [key], since_ms=since_ms, kind="page", has_user=user, message_id=f"m{offset}"
    )
    return Record(TOPIC, 0, offset, mark, value, headers)


def done(offset: int, key: bytes, offsets: list[int]) -> Record:
    mark, value, headers = parcel.done(key, offsets)
    return Record(TOPIC, 0, offset, mark, value, headers)


NO_GRACE = WaitRules(grace_s=0)


class Room:
    def __init__(self, rules: WaitRules = NO_GRACE, now: float = 1_000.0) -> None:
        self.book = Book()
        self.now = now
        self.room = WaitingRoom(TOPIC, self.book, rules, clock=lambda: self.now)
        self.work: list[Work] = []
        self.room.attach(lambda key, work: self.work.append(work))
        self.tracker = PartitionOffsets(0)

    def read(self, *records: Record, end: int | None = None) -> None:
        self.room.arrived(P0, self.tracker, list(records), end)

    def woken(self) -> list[tuple[bool, list[int]]]:
        taken = [(w.wake.why == OVER, [m.offset for m in w.members]) for w in self.work if w.wake]
        self.work.clear()
        return taken


def test_events_of_someone_unknown_wait_and_go_together_when_they_are_named() -> None:
    r = Room()
    r.read(kept(0), kept(1), kept(2, key=OTHER))
    assert (r.room.events, r.room.identities, r.woken()) == (3, 2, [])
    r.book.learn({"id": 7}, soft=[VISITOR])
    assert r.woken() == [(False, [0, 1])]
    assert r.room.events == 1
    assert r.tracker.position == 0  # nothing finished yet: the deliverer finishes them


def test_an_event_of_someone_known_already_goes_at_once() -> None:
    r = Room()
    r.book.learn({"id": 7}, soft=[VISITOR])
    r.read(kept(0))
    assert r.woken() == [(False, [0])]


def test_a_partition_read_back_is_read_to_its_end_before_a_history_goes() -> None:
    r = Room()
    r.book.learn({"id": 7}, soft=[VISITOR])  # named before the restart
    r.read(kept(0), end=3)
    r.book.learn({"id": 8}, soft=[OTHER])
    assert r.woken() == []  # the rest of the visitor's history is still to be read
    r.read(kept(1), kept(2, key=OTHER), end=3)
    assert sorted(r.woken()) == [(False, [0, 1]), (False, [2])]
    r.read(kept(3))
    assert r.woken() == [(False, [3])]  # read back: what comes now goes at once


def test_a_done_mark_finishes_what_went_before_a_restart() -> None:
    r = Room()
    r.read(kept(0), kept(1), kept(2, key=OTHER), done(3, VISITOR, [0, 1]))
    assert (r.room.events, r.tracker.position) == (1, 2)
    r.read(done(4, OTHER, [2]))
    assert (r.room.events, r.tracker.position) == (0, 5)


def test_an_unreadable_record_is_skipped_and_finished() -> None:
    r = Room()
    r.read(Record(TOPIC, 0, 0, b"x", b"{}", (("fsd-wait-keys", b"zz"),)), kept(1))
    assert (r.room.events, r.tracker.position) == (1, 1)


def test_a_record_read_again_after_a_reset_position_is_held_once() -> None:
    r = Room()
    r.read(kept(0), kept(1))
    r.read(kept(1))
    assert r.room.events == 2


def test_the_oldest_events_past_an_identitys_limit_expire() -> None:
    r = Room(WaitRules(max_events=2, grace_s=0))
    r.read(*(kept(n) for n in range(5)))
    assert r.woken() == [(True, [0, 1, 2])]
    assert r.room.events == 2


def test_events_whose_wait_is_over_expire_in_a_sweep() -> None:
    r = Room(WaitRules(wait_s=60.0, grace_s=0), now=1_000.0)
    r.read(kept(0, since_ms=950_000), kept(1, since_ms=990_000, user=True))
    r.room.sweep()
    assert r.woken() == []
    r.now = 1_045.0  # the first has waited 95 s, the second 55 s
    r.room.sweep()
    (work,) = r.work
    assert work.wake is not None
    assert (work.wake.why, [(m.offset, m.user) for m in work.members]) == (OVER, [(0, False)])


def test_past_the_total_limit_the_longest_waiting_go_early() -> None:
    r = Room(WaitRules(max_total=100, grace_s=0))
    r.read(*(kept(n, key=id_key(f"v{n}"), since_ms=1_000 + n) for n in range(103)))
    expired = [offset for expire, offsets in r.woken() if expire for offset in offsets]
    assert expired == [0, 1, 2, 3]  # the excess, and a hundredth more
    assert r.room.events == 99


def test_woken_events_whose_person_is_gone_again_wait_on() -> None:
    r = Room()
    r.read(kept(0), kept(1))
    learned = r.book.learn({"id": 7}, soft=[VISITOR])
    assert learned is not None
    (work,) = r.work
    r.room.put_back(work)
    assert r.room.events == 2
    r.room.revoked([P0])
    r.room.put_back(work)  # revoked meanwhile: the next owner reads them again
    assert (r.room.events, r.room.identities) == (0, 0)


async def test_a_named_identitys_events_go_after_a_grace_so_one_still_being_kept_joins() -> None:
    r = Room(WaitRules(grace_s=0.05))
    r.read(kept(0))
    r.book.learn({"id": 7}, soft=[VISITOR])
    r.read(kept(1))  # kept a moment after the sign-up was read
    assert r.woken() == []
    await asyncio.sleep(0.1)
    assert r.woken() == [(False, [0, 1])]
    r.read(kept(2))
    r.room.revoked([P0])  # its partition went elsewhere before the grace was over
    await asyncio.sleep(0.1)
    assert r.woken() == []
