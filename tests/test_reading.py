"""What a failed read of the account means: each read retried on its own, soon at first; a
catalog refused for good is done without; a refused key stops; a failed refresh comes back
sooner."""

from __future__ import annotations

import pytest

from consumer.backoff import Backoff
from consumer.errors import (
    AccessDenied,
    Misdirected,
    RateLimited,
    RejectedError,
    TransientError,
)
from consumer.freshsales.reading import (
    Again,
    ReadPolicy,
    Verdict,
    Without,
    after_failure,
    refresh_in_s,
    verdict,
)
from translate import DestinationError

ENDPOINT = "GET settings/contacts/fields"
DOWN = TransientError("answered 500", status=500, endpoint=ENDPOINT)
NOT_FOUND = RejectedError("answered 404", status=404, endpoint=ENDPOINT)
REFUSED = AccessDenied("the API key was refused (401)", status=401, endpoint=ENDPOINT)
POLICY = ReadPolicy(slow=Backoff(1.0, 30.0))


@pytest.mark.parametrize(
    ("error", "optional", "expected"),
    [
        (DOWN, True, Verdict.RETRY),
        (DOWN, False, Verdict.RETRY),
        (RateLimited("rate limited (429)", retry_after=None), True, Verdict.RETRY),
        (NOT_FOUND, True, Verdict.WITHOUT),  # a plan without the module
        (NOT_FOUND, False, Verdict.HOLD),  # a selector: no name resolves without it
        (REFUSED, True, Verdict.STOP),
        (Misdirected("answered 302", status=302), False, Verdict.STOP),
    ],
)
def test_only_a_refusal_for_good_of_an_optional_read_is_done_without(
    error: DestinationError, optional: bool, expected: Verdict
) -> None:
    assert verdict(error, optional=optional) is expected


@pytest.mark.parametrize(
    ("error", "optional", "attempt", "failing_for_s", "draw", "expected"),
    [
        # Transient: 0.5 s doubling with full jitter, at most 5 s, for the first minute…
        (DOWN, True, 1, 0.0, 0.5, Again(0.25, Verdict.RETRY)),
        (DOWN, False, 3, 2.0, 0.5, Again(1.0, Verdict.RETRY)),
        (DOWN, True, 9, 59.0, 0.999, Again(5.0 * 0.999, Verdict.RETRY)),
        # …then at the key re-check's pace: an outage of hours costs two calls a minute.
        (DOWN, True, 20, 60.0, 0.1, Again(30.0, Verdict.RETRY)),
        # A 429 waits as long as Freshsales asked.
        (RateLimited("429", retry_after=7.0), True, 1, 0.0, 0.5, Again(7.0, Verdict.RETRY)),
        (RateLimited("429", retry_after=None), True, 2, 0.0, 0.5, Again(0.5, Verdict.RETRY)),
        # Refused for good: without it when the service can run so, else held, slowly.
        (NOT_FOUND, True, 1, 0.0, 0.5, Without(f"{ENDPOINT}: answered 404")),
        (NOT_FOUND, False, 1, 0.0, 0.5, Again(1.0, Verdict.HOLD)),
        # A refused key: stopped, tried again as before the reads were retried one by one.
        (REFUSED, True, 1, 0.0, 0.5, Again(1.0, Verdict.STOP)),
        (REFUSED, False, 4, 7.0, 0.5, Again(8.0, Verdict.STOP)),
        (REFUSED, False, 12, 900.0, 0.5, Again(30.0, Verdict.STOP)),
    ],
)
def test_the_next_step_after_a_failed_read(
    error: DestinationError,
    optional: bool,
    attempt: int,
    failing_for_s: float,
    draw: float,
    expected: Again | Without,
) -> None:
    decision = after_failure(
        error,
        optional=optional,
        attempt=attempt,
        failing_for_s=failing_for_s,
        policy=POLICY,
        draw=draw,
    )
    assert decision == expected


def test_thirty_percent_of_failures_cost_seconds_not_minutes() -> None:
    # The longest a read can wait over five failures in a row (0.3 ** 5: one read in 400).
    pauses = [
        after_failure(
            DOWN, optional=True, attempt=n, failing_for_s=0.0, policy=ReadPolicy(), draw=0.9999
        )
        for n in range(1, 6)
    ]
    assert sum(p.delay_s for p in pauses if isinstance(p, Again)) < 13.0
    assert all(isinstance(p, Again) for p in pauses)


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 900.0), (1, 30.0), (2, 60.0), (5, 480.0), (6, 900.0), (40, 900.0)],
)
def test_a_failed_refresh_comes_back_sooner_than_the_next_one(
    failures: int, expected: float
) -> None:
    assert refresh_in_s(failures, ReadPolicy()) == expected


def test_a_refresh_interval_shorter_than_the_retry_is_kept() -> None:
    assert refresh_in_s(3, ReadPolicy(refresh_s=10.0)) == 10.0
