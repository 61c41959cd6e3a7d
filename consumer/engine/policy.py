"""What to do after a failed attempt: pure decisions, carried out by the delivery loop.

A failure is classified by its exception (``retriable`` / ``fatal``, see ``consumer.errors``) and
by a few facts about the attempt:

- fatal (bad key, bad settings): stop consuming, dead-letter nothing — the next event would fail
  the same way, and dead-lettering the topic for a revoked key would lose nothing but cost a replay;
- refused with a record id that came from memory (the identity cache, skip-unchanged): the record
  may have been deleted in Freshsales since; once, start over from fresh answers (``Refresh``),
  when the event itself says who the person is (else forgetting would lose them);
- refused while standing for several events (merged identifies): deliver them one by one
  (``Split``), so that only the one at fault is dead-lettered;
- otherwise not retriable: dead-letter at once, with the reason;
- retriable: wait and try again — the server's Retry-After when it gave one, else exponential
  backoff with full jitter — until the retry window since the first failure is spent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consumer.backoff import Backoff
from consumer.errors import FreshsalesError, RateLimited
from translate import DestinationError, Reason, TranslationError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 300.0, jitter=True))
    window_s: float = 4 * 3600.0
    """RETRY_MAX_SECONDS: how long one event may fail transiently before it is dead-lettered."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the delivery loop knows about the attempt that just failed."""

    number: int = 1
    """1 for the first try of this event."""
    failing_for_s: float = 0.0
    """Time since this event's first failure, not counting waits for the quota."""
    remembered: bool = False
    """A record of the attempt came from memory rather than from an answer."""
    can_refresh: bool = False
    """Not refreshed yet, and the event's own requests can find the person again."""
    merged: int = 0
    """Other events this one stands for (identifies merged into it)."""


@dataclass(frozen=True, slots=True)
class Retry:
    delay_s: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: Reason


@dataclass(frozen=True, slots=True)
class Stop:
    error: DestinationError


@dataclass(frozen=True, slots=True)
class Refresh:
    """Forget what memory said about this event's records and try again at once."""


@dataclass(frozen=True, slots=True)
class Split:
    """Deliver each of the events this one stands for on its own."""


Decision = Retry | DeadLetter | Stop | Refresh | Split


def decide(
    error: DestinationError, attempt: Attempt, policy: RetryPolicy, jitter: float
) -> Decision:
    """The next step after ``attempt`` failed with ``error``. ``jitter``: a uniform draw in
    [0, 1), passed in so that the decision stays a pure function."""
    if error.fatal:
        return Stop(error)
    if isinstance(error, TranslationError):
        return DeadLetter(error.reason)
    if not error.retriable:
        if attempt.remembered and attempt.can_refresh:
            return Refresh()
        if attempt.merged:
            return Split()
        return DeadLetter(Reason.REJECTED)
    remaining = policy.window_s - attempt.failing_for_s
    if remaining <= 0:
        return DeadLetter(Reason.RETRIES_EXHAUSTED)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        delay = error.retry_after
    else:
        delay = policy.backoff.delay_s(attempt.number, jitter)
    # The last try happens at the end of the window rather than never.
    return Retry(min(delay, remaining))


def health_signal(error: DestinationError) -> bool | None:
    """What a failed call tells the circuit breaker: False for a sick Freshsales, True for one
    that answered (a rejection is an answer), None for nothing (a 429 only says the quota is
    spent, which the budget handles; translation and broker errors are not about Freshsales)."""
    if not isinstance(error, FreshsalesError) or isinstance(error, RateLimited):
        return None
    return not error.retriable
