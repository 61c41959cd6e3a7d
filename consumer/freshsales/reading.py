"""What a failed read of the account means: pure decisions, carried out by ``standing``.

Each read (``account.reads``) is retried on its own, and what the others answered is kept: with
seven reads and a Freshsales failing 30 % of calls, a whole round succeeds 8 % of the time, one
read in a few tries. Delivery waits until every read is done (the service is not ready, and
says why), because running without a catalog that was only unreadable for a moment sends
custom traits unchecked, and Freshsales refuses the ones the account lacks.

- transient (5xx, timeout, 429): again, soon at first (0.5 s doubling with full jitter, at most
  5 s: a flaky Freshsales costs seconds), then, once the read has failed for a minute, at the
  pace of the key re-check (an outage of hours costs two calls a minute, not the quota). A 429
  waits for its Retry-After;
- refused for good (400/404/422…: a plan without the module) and optional (a field catalog,
  the industry types): the service runs without it, and says so;
- refused for good and required (a selector the configured names are resolved against):
  nothing can be resolved without it; again at the pace of the key re-check;
- fatal (401/403, a redirect): delivery is stopped for it as for a delivery (``refusal``), and
  the read is tried again at that pace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from consumer.backoff import Backoff
from consumer.errors import RateLimited
from translate import DestinationError


class Verdict(StrEnum):
    RETRY = "retry"
    """Transient: tried again soon; delivery waits for it."""
    WITHOUT = "without"
    """Refused for good, and the service can run without it."""
    HOLD = "hold"
    """Refused for good, and the service cannot run without it: tried again slowly."""
    STOP = "stop"
    """Fatal (a refused key, a wrong address): delivery stopped, tried again slowly."""


@dataclass(frozen=True, slots=True)
class ReadPolicy:
    quick: Backoff = field(default_factory=lambda: Backoff(0.5, 5.0, jitter=True))
    """The pauses of a read failing transiently, for its first ``quick_for_s``."""
    quick_for_s: float = 60.0
    slow: Backoff = field(default_factory=lambda: Backoff(1.0, 30.0))
    """The pauses after that, and of a read that is refused (the key re-check's pace)."""
    refresh_s: float = 900.0
    """How often a running service reads the account again."""
    refresh_retry: Backoff = field(default_factory=lambda: Backoff(30.0, 900.0))
    """How soon a refresh that failed is tried again (at most every ``refresh_s``)."""


@dataclass(frozen=True, slots=True)
class Again:
    """Try the read again after ``delay_s``; delivery waits meanwhile."""

    delay_s: float
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class Without:
    """Go on without this read, for the reason given."""

    problem: str


def verdict(error: DestinationError, *, optional: bool) -> Verdict:
    """What ``error`` means for a read the service can (``optional``) or cannot run without."""
    if error.fatal:
        return Verdict.STOP
    if error.retriable:
        return Verdict.RETRY
    return Verdict.WITHOUT if optional else Verdict.HOLD


def after_failure(
    error: DestinationError,
    *,
    optional: bool,
    attempt: int,
    failing_for_s: float,
    policy: ReadPolicy,
    draw: float,
) -> Again | Without:
    """The next step after the ``attempt``-th failure in a row of one read, failing for
    ``failing_for_s`` since its first. ``draw``: a uniform draw in [0, 1) for the jitter."""
    kind = verdict(error, optional=optional)
    if kind is Verdict.WITHOUT:
        return Without(str(error))
    if kind is not Verdict.RETRY:
        return Again(policy.slow.delay_s(attempt), kind)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return Again(error.retry_after, kind)
    if failing_for_s < policy.quick_for_s:
        return Again(policy.quick.delay_s(attempt, draw), kind)
    return Again(policy.slow.delay_s(attempt), kind)


def refresh_in_s(failures: int, policy: ReadPolicy) -> float:
    """When to read the account again, after ``failures`` failed refreshes in a row: a read
    that failed kept its previous answer, and is tried again sooner than the next refresh."""
    if failures <= 0:
        return policy.refresh_s
    return min(policy.refresh_s, policy.refresh_retry.delay_s(failures))
