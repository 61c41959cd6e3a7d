"""What an attempt to deliver came to, before anything is settled: delivered (with the chain that
did it), refused for good, to be split (it stood for several), or abandoned (its partition went
to another consumer)."""

from __future__ import annotations

from dataclasses import dataclass

from consumer.engine.chain import Chain
from translate import DestinationError, Reason


@dataclass(frozen=True, slots=True)
class Delivered:
    chain: Chain
    attempt: int


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Reason
    error: DestinationError
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class SplitIt:
    """Refused while standing for several merged identifies: deliver each on its own."""


@dataclass(frozen=True, slots=True)
class Gone:
    """Abandoned: the partition went to another consumer, which delivers it."""


@dataclass(frozen=True, slots=True)
class Suppressed:
    """The person turned out to have asked to be forgotten (a deletion request came meanwhile):
    nothing more is sent for the event."""


Result = Delivered | Refused | SplitIt | Gone | Suppressed
