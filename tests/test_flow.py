"""When the fetch loop stops fetching, how much it fetches, and when it folds what waits whole."""

from __future__ import annotations

import pytest

from consumer.engine.flow import Held, Limits, fetch_room, should_compact, should_pause

LIMITS = Limits(items=100, folded=1000)
WHOLE_ONLY = Limits(items=100)


@pytest.mark.parametrize(
    ("held", "limits", "paused", "delivering", "circuit_open", "pause"),
    [
        (Held(0), LIMITS, False, True, False, False),  # nothing held: fetch
        (Held(99), LIMITS, False, True, False, False),  # room for one more
        (Held(100), LIMITS, False, True, False, True),  # whole events full
        (Held(10, 1000), LIMITS, False, True, False, True),  # folded full
        (Held(51), LIMITS, True, True, False, True),  # paused: stays paused until half drained
        (Held(50), LIMITS, True, True, False, False),  # drained to half: fetch again
        (Held(10, 501), LIMITS, True, True, False, True),  # folded still draining
        (Held(10, 500), LIMITS, True, True, False, False),
        (Held(0), LIMITS, False, False, False, True),  # the key is refused: nothing could go
        (Held(1), LIMITS, False, True, True, True),  # circuit open, work held: it probes
        (Held(0), LIMITS, False, True, True, False),  # circuit open, nothing held: fetch a probe
        (Held(100), WHOLE_ONLY, False, True, False, True),
        (Held(50), WHOLE_ONLY, True, True, False, False),
    ],
)
def test_fetching_pauses_when_full_and_resumes_at_half(
    held: Held, limits: Limits, paused: bool, delivering: bool, circuit_open: bool, pause: bool
) -> None:
    assert (
        should_pause(held, limits, paused=paused, delivering=delivering, circuit_open=circuit_open)
        is pause
    )


@pytest.mark.parametrize(
    ("held", "limits", "most", "folding", "room"),
    [
        (Held(0), LIMITS, 500, False, 100),  # the free room of whole events
        (Held(40), LIMITS, 500, False, 60),
        (Held(100), LIMITS, 500, False, 1),  # at least one (a paused source returns nothing)
        (Held(40), LIMITS, 30, False, 30),  # at most a fetch's worth
        (Held(100, 200), LIMITS, 500, True, 500),  # folding: the folded room counts
        (Held(100, 900), LIMITS, 500, True, 100),
        (Held(100), WHOLE_ONLY, 500, True, 1),  # no folded room at all
    ],
)
def test_a_fetch_takes_the_free_room(
    held: Held, limits: Limits, most: int, folding: bool, room: int
) -> None:
    assert fetch_room(held, limits, most=most, folding=folding) == room


@pytest.mark.parametrize(
    ("held", "limits", "paused", "pressed", "compact"),
    [
        (Held(100), LIMITS, False, True, True),  # full of whole events that will wait
        (Held(80), LIMITS, True, True, True),  # still paused from full: fold, read on
        (Held(80), LIMITS, False, True, False),  # fetching goes on anyway
        (Held(50), LIMITS, True, True, False),  # drained to half: fetching resumes by itself
        (Held(100), LIMITS, False, False, False),  # calls go out at once: nothing will wait
        (Held(100), WHOLE_ONLY, False, True, False),  # nothing may fold
    ],
)
def test_whole_events_are_folded_when_they_hold_fetching_back_and_will_wait(
    held: Held, limits: Limits, paused: bool, pressed: bool, compact: bool
) -> None:
    assert should_compact(held, limits, paused=paused, pressed=pressed) is compact
