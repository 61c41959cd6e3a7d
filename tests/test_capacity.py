"""What a 429 teaches: which window refused, what is left, how long the lesson holds, regrowth;
and this replica's part of the deployment from its partitions."""

from __future__ import annotations

import pytest

from consumer.freshsales.capacity import (
    Growth,
    Learned,
    believed,
    fitted,
    hold_s,
    learn,
    refused_window,
)
from consumer.freshsales.share import ALONE, Part, part_of

GROWTH = Growth(least=0.1, step=0.1, hold_s=60.0, longest_hold_s=960.0)


@pytest.mark.parametrize(
    ("retry_after_s", "remaining", "reported", "window"),
    [
        # no hint: the minute, where most 429s come from
        (None, None, None, "minute"),
        (30.0, None, None, "minute"),
        (60.0, None, None, "minute"),
        # only the hour can take longer than a minute to free a place
        (61.0, None, None, "hour"),
        (1800.0, None, None, "hour"),
        # the reported window with nothing left is the one that refused…
        (5.0, 0, "hour", "hour"),
        (5.0, 0, "minute", "minute"),
        # …and with room left it cannot be: the other one refused
        (5.0, 120, "hour", "minute"),
        (1800.0, 3, "minute", "hour"),
        # a count without knowing its window says nothing
        (1800.0, 0, None, "hour"),
    ],
)
def test_the_window_a_429_was_about(retry_after_s, remaining, reported, window) -> None:
    assert refused_window(retry_after_s, remaining, reported) == window


@pytest.mark.parametrize(
    ("fit", "fraction", "plan", "calls"),
    [
        # alone: what fitted is what is left, less a tenth to stay off the edge
        (60, 1.0, 400.0, 54.0),
        # one replica of three: the deployment has three times that
        (40, 1 / 3, 600.0, 108.0),
        # half the partitions
        (45, 0.5, 400.0, 81.0),
        # never above the plan (the plan's figure was right after all)
        (500, 1.0, 400.0, 400.0),
        # never below a tenth of it: figures that far off are an operator's to fix
        (10, 1.0, 400.0, 40.0),
        (0, 1.0, 400.0, 40.0),
        (0, 0.25, 400.0, 40.0),
        (0, 1.0, 5.0, 1.0),
    ],
)
def test_what_fitted_before_the_refusal_is_the_capacity_left(fit, fraction, plan, calls) -> None:
    learned = learn(fit, fraction, plan, grows_from=100.0, growth=GROWTH)
    assert learned is not None
    assert learned.calls == pytest.approx(calls)
    assert learned.grows_from == 100.0


def test_a_replica_without_partitions_learns_nothing() -> None:
    assert learn(10, 0.0, 400.0, grows_from=0.0, growth=GROWTH) is None


@pytest.mark.parametrize(
    ("learned_calls", "fit", "fraction", "calls"),
    [
        # calls in flight at the 429 that were accepted fitted too (less a tenth, as ever)
        (60.0, 70, 1.0, 63.0),
        (60.0, 25, 1 / 3, 67.5),
        # fewer changes nothing
        (60.0, 10, 1.0, 60.0),
        # capped by the plan
        (60.0, 900, 1.0, 600.0),
        # a lesson that is no lesson (no part) stays as it is
        (60.0, 90, 0.0, 60.0),
    ],
)
def test_calls_accepted_after_the_first_429_raise_the_lesson(
    learned_calls, fit, fraction, calls
) -> None:
    before = Learned(learned_calls, 100.0)
    after = fitted(before, fit, fraction, plan=600.0, growth=GROWTH)
    assert after.calls == pytest.approx(calls)
    assert after.grows_from == 100.0


@pytest.mark.parametrize(
    ("incidents", "hold"),
    [(0, 60.0), (1, 60.0), (2, 120.0), (3, 240.0), (4, 480.0), (5, 960.0), (6, 960.0), (99, 960.0)],
)
def test_each_incident_of_the_hour_doubles_the_hold_up_to_a_limit(incidents, hold) -> None:
    assert hold_s(GROWTH, incidents) == hold


@pytest.mark.parametrize(
    ("now", "calls"),
    [
        # held
        (0.0, 60.0),
        (99.9, 60.0),
        # then a tenth of the plan at once, and one more each minute
        (100.0, 120.0),
        (159.9, 120.0),
        (160.0, 180.0),
        (400.0, 420.0),
        # never above the plan
        (1000.0, 600.0),
    ],
)
def test_a_lesson_holds_then_regrows_by_a_tenth_of_the_plan_a_minute(now, calls) -> None:
    learned = Learned(60.0, grows_from=100.0)
    assert believed(600.0, learned, now, GROWTH) == pytest.approx(calls)


def test_without_a_lesson_the_plan_is_believed() -> None:
    assert believed(400.0, None, 0.0, GROWTH) == 400.0


@pytest.mark.parametrize(
    ("held", "partitions", "previous", "part", "fraction"),
    [
        # the group's division of the topic
        (6, 6, ALONE, Part(6, 6), 1.0),
        (2, 6, Part(6, 6), Part(2, 6), 1 / 3),
        (3, 6, Part(2, 6), Part(3, 6), 0.5),
        (1, 4, Part(3, 4), Part(1, 4), 0.25),
        # no partitions: no part (the quota keeps one call a window for the account's reads)
        (0, 6, Part(2, 6), Part(0, 6), 0.0),
        (0, None, Part(2, 6), Part(0, 6), 0.0),
        (0, None, ALONE, Part(0, 1), 0.0),
        # metadata not there yet, or behind the assignment: the assignment is the witness
        (2, None, Part(2, 6), Part(2, 6), 1 / 3),
        (4, 3, Part(1, 3), Part(4, 4), 1.0),
    ],
)
def test_a_replicas_part_is_its_share_of_the_topics_partitions(
    held, partitions, previous, part, fraction
) -> None:
    assert part_of(held, partitions, previous) == part
    assert part.fraction == pytest.approx(fraction)
