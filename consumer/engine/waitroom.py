"""The waiting room: events of people not known yet, held until an identify or an alias names
them, or until their wait is over.

An event that waits is written to the waiting topic (``WaitingLog.keep``, by the deliverer),
keyed by the identity it waits for; its source offset is finished once Kafka has it. The
consumer group reads the waiting topic beside the source topic, so each of its partitions has one
owner, which holds what waits there on a ``Shelf`` — offsets and a few bits, the events stay in
Kafka — and its commit position stays at the oldest event still waiting: a crash or a rebalance
brings the shelf back, read again from there.

When the identity map links an identity (an identify or alias delivered by any replica, read
from the identity topic), the owner of the events waiting under it makes them one piece of work
(``Wake``) for the deliverer: their person's history. The same when a waiting event is read back
and its person is known already (the link came first). A partition being read back after a
restart or a rebalance is read to the end it had first before anything of it goes: a visitor's
history is one activity, not the part of it read so far and then the rest.

Events wait at most ``wait_s``, and one identity at most ``max_events`` of them (the oldest go
first); ``max_total`` bounds the whole shelf, so memory stays bounded whatever the traffic.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from consumer.engine import parcel
from consumer.engine.offsets import PartitionOffsets
from consumer.engine.source import Partition, Record
from consumer.engine.work import FORGOTTEN, NAMED, OVER, Member, Wake, Work
from consumer.identity.book import Book, Person
from consumer.identity.shelf import Held, Shelf
from consumer.logs import get_logger
from translate import Key

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WaitRules:
    wait_s: float = 30 * 24 * 3600.0
    """IDENTITY_WAIT_SECONDS."""
    grace_s: float = 2.0
    """How long after an identity is named its events go: one still being kept (the visitor's
    last page, written a moment after the sign-up was read) joins the others in one history."""
    max_events: int = 100
    """IDENTITY_WAIT_MAX_EVENTS: per identity."""
    max_total: int = 1_000_000
    """IDENTITY_WAIT_MAX_TOTAL: events waiting on this replica's shelves, at most."""


Submit = Callable[[str, Work], None]
"""The dispatcher's ``submit(key, work)``."""


class WaitingRoom:
    def __init__(
        self,
        topic: str,
        book: Book,
        rules: WaitRules = WaitRules(),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Work it makes goes to ``attach``'s dispatcher (the engine attaches its own)."""
        self.topic = topic
        self._book = book
        self._submit: Submit | None = None
        self.rules = rules
        self._clock = clock
        self._shelves: dict[Partition, Shelf] = {}
        self._trackers: dict[Partition, PartitionOffsets] = {}
        self._catching_up: dict[Partition, int] = {}
        """Partitions read back from where they were committed, with the end to reach first."""
        self._deferred: dict[Partition, set[Key]] = {}
        """Identities named while their partition was still being read back."""
        self._due: dict[tuple[Partition, Key], asyncio.TimerHandle] = {}
        """Identities named, their events about to go (after ``grace_s``)."""
        book.listen(self._linked)
        book.listen_forgotten(self._forgotten)

    def attach(self, submit: Submit) -> None:
        self._submit = submit

    @property
    def events(self) -> int:
        """Events waiting on this replica's shelves."""
        return sum(shelf.events for shelf in self._shelves.values())

    @property
    def identities(self) -> int:
        return sum(shelf.identities for shelf in self._shelves.values())

    def arrived(
        self,
        partition: Partition,
        tracker: PartitionOffsets,
        records: Sequence[Record],
        end: int | None = None,
    ) -> None:
        """Records of a waiting-topic partition this replica owns, in order; ``end``: where the
        partition ends as of this fetch (None: not known)."""
        shelf = self._shelves.get(partition)
        if shelf is None or self._trackers.get(partition) is not tracker:
            shelf = self._shelves[partition] = Shelf()
            self._trackers[partition] = tracker
            self._deferred[partition] = set()
            if end is not None:
                self._catching_up[partition] = end
        now = time.monotonic()
        known: dict[Key, Person] = {}
        crowded: set[Key] = set()
        forgotten: set[Key] = set()
        for record in records:
            try:
                tracker.fetched(record.offset, now)
            except ValueError:
                continue  # read again after a reset position: the first copy is held already
            meaning = parcel.read(record)
            if isinstance(meaning, parcel.Done):
                tracker.finished(record.offset)
                for held in shelf.take(meaning.key, meaning.offsets):
                    tracker.finished(held.offset)
                for offset in meaning.offsets:
                    tracker.finished(offset)
                continue
            if meaning is None:
                tracker.finished(record.offset)
                log.warning(
                    "waiting_record_unreadable", partition=record.partition, offset=record.offset
                )
                continue
            shelf.add(meaning.keys, record.offset, meaning.since_ms, meaning.kind, meaning.has_user)
            if any(self._book.is_suppressed(k) for k in meaning.keys):
                forgotten.add(meaning.keys[0])  # kept just before the request: discarded
                continue
            person = self._book.find(meaning.keys)
            if person is not None:
                known[meaning.keys[0]] = person
            else:
                crowded.add(meaning.keys[0])
        reached = self._catching_up.get(partition)
        if reached is not None and records and records[-1].offset + 1 >= reached:
            del self._catching_up[partition]
            known |= {k: p for k in self._deferred[partition] if (p := self._book.owner_of(k))}
            self._deferred[partition].clear()
        for key in forgotten:
            self._wake(partition, key, why=FORGOTTEN)
        for key in known:
            self._named(partition, key)
        for key in crowded:
            over = shelf.oldest_beyond(key, self.rules.max_events)
            if over:
                self._wake(partition, key, why=OVER, offsets=over)
        self._bound()

    def sweep(self) -> None:
        """Events whose wait is over go (anonymous ones expire, those with a userId are
        dead-lettered)."""
        horizon_ms = round((self._clock() - self.rules.wait_s) * 1000)
        for partition, shelf in list(self._shelves.items()):
            for key, offsets in list(shelf.due(horizon_ms)):
                self._wake(partition, key, why=OVER, offsets=offsets)

    def revoked(self, partitions: Iterable[Partition]) -> None:
        for partition in partitions:
            self._shelves.pop(partition, None)
            self._trackers.pop(partition, None)
            self._catching_up.pop(partition, None)
            self._deferred.pop(partition, None)
            for due in [d for d in self._due if d[0] == partition]:
                self._due.pop(due).cancel()

    def put_back(self, work: Work) -> None:
        """Woken events whose person is gone again (deleted in Freshsales): they wait on."""
        assert work.wake is not None
        partition = Partition(work.record.topic, work.record.partition)
        shelf = self._shelves.get(partition)
        if shelf is None or self._trackers.get(partition) is not work.tracker:
            return  # revoked meanwhile: the next owner reads them again
        for m in work.members:
            shelf.add((work.wake.key,), m.offset, m.since_ms, m.type, m.user)

    def _linked(self, key: Key, person: Person) -> None:
        for partition, shelf in self._shelves.items():
            if key in shelf:
                self._named(partition, key)

    def _forgotten(self, key: Key) -> None:
        """A deletion request suppressed ``key``: what waits under it is discarded."""
        for partition, shelf in self._shelves.items():
            if key in shelf:
                self._wake(partition, key, why=FORGOTTEN)

    def _named(self, partition: Partition, key: Key) -> None:
        """``key`` names someone: its events go, once its partition has been read back and the
        grace is over."""
        if partition in self._catching_up:
            self._deferred[partition].add(key)
        elif self.rules.grace_s <= 0:
            self._wake(partition, key, why=NAMED)
        elif (partition, key) not in self._due:
            loop = asyncio.get_running_loop()
            self._due[partition, key] = loop.call_later(
                self.rules.grace_s, self._graced, partition, key
            )

    def _graced(self, partition: Partition, key: Key) -> None:
        self._due.pop((partition, key), None)
        if partition in self._shelves:
            self._wake(partition, key, why=NAMED)

    def _wake(
        self, partition: Partition, key: Key, *, why: str, offsets: list[int] | None = None
    ) -> None:
        shelf = self._shelves[partition]
        taken = shelf.take(key, offsets)
        if not taken:
            return
        work = Work(
            Record(partition.topic, partition.partition, taken[0].offset, None, None),
            self._trackers[partition],
            "wait:" + key.hex(),
            None,
            None,
            members=[_member(h) for h in taken],
            wake=Wake(key, why=why),
        )
        assert self._submit is not None, "the waiting room is not attached to a dispatcher"
        self._submit(work.key, work)

    def _bound(self) -> None:
        """Past ``max_total`` waiting events, the longest-waiting go early (counted)."""
        excess = self.events - self.rules.max_total
        if excess <= 0:
            return
        # A hundredth more than needed: the scan is over every shelf, not worth it per event.
        batch = excess + self.rules.max_total // 100
        for partition, shelf in list(self._shelves.items()):
            share = max(1, batch * shelf.events // max(1, self.events))
            for key, offsets in list(shelf.oldest_events(share)):
                self._wake(partition, key, why=OVER, offsets=offsets)
        log.warning("waiting_room_full", limit=self.rules.max_total, expired_early=batch)


def _member(held: Held) -> Member:
    return Member(held.offset, None, held.kind, user=held.has_user, since_ms=held.since_ms)
