"""After a failure: retry (and how long to wait), dead-letter (with which reason), or stop."""

from __future__ import annotations

import pytest

from consumer.backoff import Backoff
from consumer.engine.policy import (
    Attempt,
    DeadLetter,
    Decision,
    Refresh,
    Retry,
    RetryPolicy,
    Split,
    Stop,
    decide,
    health_signal,
)
from consumer.errors import (
    AccessDenied,
    BrokerError,
    ConfigurationError,
    Misdirected,
    RateLimited,
    RejectedError,
    TransientError,
)
from translate import DestinationError, Reason, TranslationError

POLICY = RetryPolicy(backoff=Backoff(2.0, 60.0, jitter=True), window_s=3600.0)


def after(
    error: DestinationError,
    attempt: int = 1,
    failing_for_s: float = 0.0,
    jitter: float = 0.5,
    **facts: bool | int,
) -> Decision:
    state = Attempt(number=attempt, failing_for_s=failing_for_s, **facts)  # type: ignore[arg-type]
    return decide(error, state, POLICY, jitter)


def test_a_wrong_key_stops_the_service_instead_of_dead_lettering() -> None:
    for error in (
        AccessDenied("401", status=401),
        AccessDenied("403", status=403),
        Misdirected("301", status=301),
        ConfigurationError("no key"),
    ):
        assert after(error) == Stop(error)


def test_an_untranslatable_event_is_dead_lettered_with_its_own_reason() -> None:
    error = TranslationError(Reason.MISSING_EMAIL, "no email")
    assert after(error) == DeadLetter(Reason.MISSING_EMAIL)


def test_a_rejected_request_is_dead_lettered_at_once() -> None:
    assert after(RejectedError("400", status=400)) == DeadLetter(Reason.REJECTED)


@pytest.mark.parametrize(
    ("attempt", "jitter", "delay"),
    [
        (1, 0.5, 1.0),
        (2, 0.5, 2.0),
        (3, 1.0, 8.0),
        (4, 0.25, 4.0),
        (10, 0.5, 30.0),
        (500, 1.0, 60.0),
    ],
)
def test_transient_failures_back_off_exponentially_with_full_jitter(attempt, jitter, delay) -> None:
    assert after(TransientError("503", status=503), attempt=attempt, jitter=jitter) == Retry(delay)


def test_zero_jitter_retries_at_once() -> None:
    assert after(TransientError("timeout"), jitter=0.0) == Retry(0.0)


def test_a_429_waits_exactly_what_the_server_asked() -> None:
    error = RateLimited("429", retry_after=17.0)
    assert after(error, attempt=9, jitter=0.0) == Retry(17.0)


def test_a_429_without_retry_after_backs_off_like_any_transient_failure() -> None:
    assert after(RateLimited("429", retry_after=None), attempt=2, jitter=0.5) == Retry(2.0)


def test_the_last_try_is_at_the_end_of_the_retry_window() -> None:
    error = RateLimited("429", retry_after=600.0)
    assert after(error, failing_for_s=3590.0) == Retry(10.0)


def test_past_the_retry_window_the_event_is_dead_lettered() -> None:
    assert after(TransientError("503"), failing_for_s=3600.0) == DeadLetter(
        Reason.RETRIES_EXHAUSTED
    )


def test_a_refusal_with_a_remembered_record_starts_over_from_fresh_answers_once() -> None:
    refused = RejectedError("404", status=404)
    assert after(refused, remembered=True, can_refresh=True) == Refresh()
    assert after(refused, remembered=True, can_refresh=False) == DeadLetter(Reason.REJECTED)
    assert after(refused, remembered=False, can_refresh=True) == DeadLetter(Reason.REJECTED)


def test_a_refused_merge_is_split_so_only_the_event_at_fault_is_dead_lettered() -> None:
    refused = RejectedError("400", status=400)
    assert after(refused, merged=3) == Split()
    # Fresh answers first: the merged upsert may only have failed on a stale id.
    assert after(refused, merged=3, remembered=True, can_refresh=True) == Refresh()


def test_an_untranslatable_merge_is_dead_lettered_whole_with_its_reason() -> None:
    error = TranslationError(Reason.UNRESOLVED_REFERENCE, "no stage")
    assert after(error, merged=2) == DeadLetter(Reason.UNRESOLVED_REFERENCE)


def test_broker_errors_retry_like_transient_ones() -> None:
    assert after(BrokerError("down"), attempt=1, jitter=1.0) == Retry(2.0)


@pytest.mark.parametrize(
    ("error", "signal"),
    [
        (TransientError("503", status=503), False),
        (TransientError("timeout"), False),
        (RejectedError("400", status=400), True),
        (AccessDenied("401", status=401), True),
        (RateLimited("429", retry_after=None), None),
        (TranslationError(Reason.MISSING_EMAIL, "no email"), None),
        (BrokerError("down"), None),
    ],
)
def test_what_a_failure_tells_the_circuit_breaker(error, signal) -> None:
    """A sick Freshsales counts against the circuit; an answer for it; the quota not at all."""
    assert health_signal(error) is signal
