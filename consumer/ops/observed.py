"""The service as operations see it: the parts metrics, probes and the quota line read, and what
they derive from them (readiness, liveness, the backlog's drain time)."""

from __future__ import annotations

import time
from typing import Protocol

from consumer.engine.breaker import Breaker
from consumer.engine.loop import Engine
from consumer.engine.stats import Stats
from consumer.freshsales.budget import Budget
from consumer.freshsales.client import FreshsalesClient
from consumer.freshsales.quota import drain_eta_s
from consumer.freshsales.standing import AccountStanding
from consumer.identity.book import Book
from consumer.kafka.identities import IdentityTopic
from consumer.ops.health import liveness, readiness


class Observed(Protocol):
    @property
    def stats(self) -> Stats: ...

    @property
    def engine(self) -> Engine | None:
        """None until consuming starts."""

    @property
    def budget(self) -> Budget: ...

    @property
    def standing(self) -> AccountStanding: ...

    @property
    def breaker(self) -> Breaker: ...

    @property
    def client(self) -> FreshsalesClient: ...

    @property
    def stopping(self) -> bool: ...

    @property
    def kafka_unreachable(self) -> str | None:
        """Why Kafka cannot be reached at start-up, while it cannot."""

    @property
    def book(self) -> Book:
        """Who people are: the identity map."""

    @property
    def identity_topic(self) -> IdentityTopic | None:
        """None until it is being read."""


def ready(service: Observed) -> tuple[bool, str]:
    engine, standing, identities = service.engine, service.standing, service.identity_topic
    return readiness(
        stopping=service.stopping,
        refusal=standing.refusal,
        key_accepted=standing.key_accepted,
        waiting=standing.waiting,
        identities_read=identities is not None and identities.ready,
        assigned=engine is not None and engine.assigned,
        circuit_open=service.breaker.is_open(),
        kafka_unreachable=service.kafka_unreachable,
    )


def waiting(service: Observed) -> tuple[int, int]:
    """Events waiting for their person on this replica, and the identities they wait for."""
    engine = service.engine
    room = engine.room if engine is not None else None
    return (room.events, room.identities) if room is not None else (0, 0)


def alive(service: Observed) -> tuple[bool, str]:
    return liveness(fetch_loop_age_s(service), stopping=service.stopping)


def fetch_loop_age_s(service: Observed) -> float | None:
    """Seconds since the fetch loop last came round; None before its first turn."""
    engine = service.engine
    if engine is None or engine.last_poll is None:
        return None
    return time.monotonic() - engine.last_poll


def backlog(service: Observed) -> int | None:
    engine = service.engine
    return engine.backlog() if engine is not None else None


def drain_eta(service: Observed) -> float | None:
    """How long the backlog takes at the quota's current rate; None while it is unknown."""
    waiting = backlog(service)
    if waiting is None:
        return None
    return drain_eta_s(waiting, service.stats.calls_per_event, service.budget.calls_per_hour())
