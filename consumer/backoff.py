"""How long to wait before trying again: one value type for every retry loop of the service.

Deliveries back off with full jitter (many keys failing together must not retry together); the
loops that wait for a broker, a dead-letter write or the account to answer back off plainly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float
    """The pause after the first failure (with jitter: its upper bound)."""
    cap_s: float
    """No pause is longer than this."""
    factor: float = 2.0
    jitter: bool = False
    """Full jitter: the pause is a uniform draw below the exponential value (AWS's "full
    jitter"), so that retries of many failing keys spread out instead of arriving together."""

    def __post_init__(self) -> None:
        if self.first_s < 0 or self.cap_s < 0 or self.factor < 1:
            raise ValueError("expected first_s >= 0, cap_s >= 0 and factor >= 1")

    def delay_s(self, attempt: int, draw: float = 1.0) -> float:
        """The pause after the ``attempt``-th failure in a row (1 = the first). ``draw`` is a
        uniform draw in [0, 1), passed in so that the value stays a pure function; it only
        matters with ``jitter``."""
        # The exponent is bounded so that a key failing for days cannot overflow a float.
        value = min(self.cap_s, self.first_s * self.factor ** min(max(attempt, 1) - 1, 64))
        return value * draw if self.jitter else value

    def delays(self) -> Iterator[float]:
        """The pauses of a loop that never gives up, without jitter: first_s, doubling, capped."""
        attempt = 0
        while True:
            attempt += 1
            yield self.delay_s(attempt)
