"""The commit position: never beyond an unfinished event, whatever order events finish in."""

from __future__ import annotations

import random

import pytest

from consumer.engine.offsets import Offsets, PartitionOffsets


@pytest.mark.parametrize(
    ("start", "fetched", "finished", "position", "in_flight"),
    [
        # nothing fetched: Kafka already has the position
        (0, [], [], 0, 0),
        # in order
        (0, [0, 1, 2], [0], 1, 2),
        (0, [0, 1, 2], [0, 1, 2], 3, 0),
        # out of order: the lowest unfinished holds the commit back
        (0, [0, 1, 2], [2, 1], 0, 1),
        (0, [0, 1, 2], [2, 1, 0], 3, 0),
        (10, [10, 11, 12, 13], [11, 13], 10, 2),
        (10, [10, 11, 12, 13], [11, 13, 10], 12, 1),
        # gaps (compaction, transaction markers) are not waited for
        (5, [5, 6, 8, 9], [5, 6, 8], 9, 1),
        (5, [5, 6, 8, 9], [5, 6, 8, 9], 10, 0),
        (5, [7, 9], [9], 7, 1),
        (5, [7, 9], [7], 9, 1),
        (5, [7], [7], 8, 0),
        # finishing twice, or an offset never fetched, changes nothing
        (0, [0, 1], [1, 1], 0, 1),
        (0, [0, 1], [0, 0, 5], 1, 1),
        (3, [3, 4], [1], 3, 2),
    ],
)
def test_commit_position_is_the_lowest_unfinished_offset(
    start, fetched, finished, position, in_flight
) -> None:
    tracker = PartitionOffsets(start, committed=start)
    for offset in fetched:
        tracker.fetched(offset)
    for offset in finished:
        tracker.finished(offset)
    assert tracker.position == position
    assert tracker.in_flight == in_flight
    assert tracker.oldest_pending == (position if in_flight else None)


def test_fetch_order_must_increase() -> None:
    tracker = PartitionOffsets(0)
    tracker.fetched(4)
    with pytest.raises(ValueError, match="must increase"):
        tracker.fetched(4)
    with pytest.raises(ValueError, match="must increase"):
        tracker.fetched(2)


def test_an_offset_below_the_assigned_position_is_refused() -> None:
    with pytest.raises(ValueError, match="must increase"):
        PartitionOffsets(10).fetched(9)


def test_a_position_is_committed_once_and_only_when_it_moved() -> None:
    offsets: Offsets[str] = Offsets()
    offsets.assign("t-0", 7)
    offsets.assign("t-1", 0)
    assert offsets.to_commit() == {}
    offsets["t-0"].fetched(7)
    offsets["t-0"].fetched(8)
    offsets["t-1"].fetched(0)
    offsets["t-0"].finished(8)
    assert offsets.to_commit() == {}
    offsets["t-0"].finished(7)
    assert offsets.to_commit() == {"t-0": 9}
    offsets.mark_committed({"t-0": 9, "gone": 4})
    assert offsets.to_commit() == {}
    assert offsets.in_flight == 1
    offsets["t-1"].finished(0)
    assert offsets.to_commit() == {"t-1": 1}


def test_a_revoked_partition_is_forgotten_and_its_late_finishes_ignored() -> None:
    offsets: Offsets[str] = Offsets()
    offsets.assign("t-0", 0)
    offsets["t-0"].fetched(0)
    tracker = offsets.revoke("t-0")
    assert tracker is not None
    assert "t-0" not in offsets
    assert list(offsets) == []
    assert offsets.revoke("t-0") is None
    assert offsets.to_commit() == {}


def test_a_committed_position_never_goes_backwards() -> None:
    tracker = PartitionOffsets(0)
    tracker.mark_committed(5)
    tracker.mark_committed(3)
    assert tracker.committed == 5


@pytest.mark.parametrize("seed", range(20))
def test_any_finishing_order_commits_exactly_the_finished_prefix(seed: int) -> None:
    rng = random.Random(seed)
    offsets = sorted(rng.sample(range(200), 60))
    tracker = PartitionOffsets(offsets[0])
    for offset in offsets:
        tracker.fetched(offset)
    order = offsets[:]
    rng.shuffle(order)
    finished: set[int] = set()
    for offset in order:
        tracker.finished(offset)
        finished.add(offset)
        unfinished = [o for o in offsets if o not in finished]
        expected = unfinished[0] if unfinished else offsets[-1] + 1
        assert tracker.position == expected
        assert tracker.in_flight == len(unfinished)


def test_the_oldest_unfinished_record_says_when_it_was_fetched() -> None:
    tracker = PartitionOffsets(0)
    seen = [tracker.oldest_fetched_at]
    tracker.fetched(0, at=10.0)
    tracker.fetched(1, at=11.0)
    seen.append(tracker.oldest_fetched_at)
    tracker.finished(1)
    seen.append(tracker.oldest_fetched_at)
    tracker.finished(0)
    seen.append(tracker.oldest_fetched_at)
    assert seen == [None, 10.0, 10.0, None]


def test_a_long_backlog_finishing_out_of_order_keeps_the_position_right_through_compaction() -> (
    None
):
    rng = random.Random(5)
    tracker = PartitionOffsets(0)
    fetched = [n * 2 for n in range(20_000)]  # gaps, as compaction of the topic leaves them
    for offset in fetched:
        tracker.fetched(offset, at=float(offset))
    finished: set[int] = set()
    first = 0  # index of the first unfinished offset
    for offset in sorted(fetched, key=lambda o: o + rng.randrange(3000)):
        tracker.finished(offset)
        finished.add(offset)
        while first < len(fetched) and fetched[first] in finished:
            first += 1
        if first < len(fetched):
            assert tracker.position == fetched[first]
            assert tracker.oldest_fetched_at == float(fetched[first])
    assert (tracker.in_flight, tracker.position, tracker.oldest_fetched_at) == (0, 40_000 - 1, None)
