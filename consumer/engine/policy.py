"""What to do after a failed attempt: pure decisions, carried out by the delivery loop.

A failure is classified by its exception alone (``retriable`` / ``fatal``, see translate.errors):

- fatal (bad key, bad settings): stop consuming, dead-letter nothing — the next event would fail
  the same way, and dead-lettering the topic for a revoked key would lose nothing but cost a replay;
- not retriable: dead-letter at once, with the reason;
- retriable: wait and try again — the server's Retry-After when it gave one, else exponential
  backoff with full jitter — until the retry window since the first failure is spent.
"""

from __future__ import annotations

from dataclasses import dataclass

from consumer.errors import RateLimited
from translate import DestinationError, Reason, TranslationError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 0.5
    cap_s: float = 300.0
    window_s: float = 4 * 3600.0
    """RETRY_MAX_SECONDS: how long one event may fail transiently before it is dead-lettered."""


@dataclass(frozen=True, slots=True)
class Retry:
    delay_s: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: Reason


@dataclass(frozen=True, slots=True)
class Stop:
    error: DestinationError


Decision = Retry | DeadLetter | Stop


def decide(
    error: DestinationError,
    *,
    attempt: int,
    failing_for_s: float,
    policy: RetryPolicy,
    jitter: float,
) -> Decision:
    """The next step after ``attempt`` (1 = the first try) failed with ``error``.

    ``failing_for_s``: time since this event's first failure; ``jitter``: a uniform draw in
    [0, 1), passed in so that the decision stays a pure function.
    """
    if error.fatal:
        return Stop(error)
    if isinstance(error, TranslationError):
        return DeadLetter(error.reason)
    if not error.retriable:
        return DeadLetter(Reason.REJECTED)
    remaining = policy.window_s - failing_for_s
    if remaining <= 0:
        return DeadLetter(Reason.RETRIES_EXHAUSTED)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        delay = error.retry_after
    else:
        delay = jitter * min(policy.cap_s, policy.base_s * 2 ** min(attempt, 62))
    # The last try happens at the end of the window rather than never.
    return Retry(min(delay, remaining))
