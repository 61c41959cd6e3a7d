"""One backoff for every retry loop: exponential, capped, with full jitter where asked."""

from __future__ import annotations

import itertools

import pytest

from consumer.backoff import Backoff


@pytest.mark.parametrize(
    ("attempt", "draw", "jitter", "delay"),
    [
        (1, 1.0, False, 0.5),
        (2, 1.0, False, 1.0),
        (3, 0.1, False, 2.0),  # no jitter: the draw does not matter
        (7, 1.0, False, 30.0),  # capped
        (10**6, 1.0, False, 30.0),  # days of failures cannot overflow
        (0, 1.0, False, 0.5),  # "no failure yet" reads as the first
        (3, 0.25, True, 0.5),  # full jitter: a share of the exponential value
        (3, 0.0, True, 0.0),
    ],
)
def test_the_pause_after_each_failure(
    attempt: int, draw: float, jitter: bool, delay: float
) -> None:
    assert Backoff(0.5, 30.0, jitter=jitter).delay_s(attempt, draw) == delay


def test_a_loop_that_never_gives_up_pauses_longer_each_time_up_to_the_cap() -> None:
    assert list(itertools.islice(Backoff(1.0, 5.0).delays(), 5)) == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_first_pause_above_the_cap_is_the_cap() -> None:
    assert Backoff(1.0, 0.5).delay_s(1) == 0.5


@pytest.mark.parametrize(
    ("first", "cap", "factor"), [(-1.0, 1.0, 2.0), (1.0, -1.0, 2.0), (1, 2, 0.5)]
)
def test_values_that_would_shrink_or_go_negative_are_refused(
    first: float, cap: float, factor: float
) -> None:
    with pytest.raises(ValueError, match="expected"):
        Backoff(first, cap, factor)
