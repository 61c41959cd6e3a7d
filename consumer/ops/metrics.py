"""Prometheus metrics, read from the service's own state at scrape time.

Nothing in the delivery path touches a metrics library: the counters the service keeps anyway
(``Stats``, the budget, the client's call counts, the offset trackers) are turned into metric
families when Prometheus asks. One registry per service, so tests can run several at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from consumer.engine.latency import Latency
from consumer.engine.loop import Engine
from consumer.engine.stats import Stats
from consumer.freshsales.budget import Budget
from consumer.ops.observed import (
    Observed,
    backlog,
    drain_eta,
    fetch_loop_age_s,
    ready,
    waiting,
)
from translate import Reason

PREFIX = "fsd_"


class ServiceCollector(Collector):
    def __init__(self, service: Observed) -> None:
        self._service = service

    def collect(self) -> Iterator[Metric]:
        service = self._service
        stats = service.stats
        yield from _events(stats)
        calls = CounterMetricFamily(
            PREFIX + "freshsales_calls", "Freshsales API calls", labels=("endpoint", "status")
        )
        for (endpoint, status), count in sorted(service.client.answers.items()):
            calls.add_metric((endpoint, status), count)
        yield calls
        yield _counter("retries", "delivery attempts retried", stats.retries)
        letters = CounterMetricFamily(
            PREFIX + "dead_letters", "events dead-lettered", labels=("reason",)
        )
        # Every reason from the start: a series that appears at its first letter has no increase.
        for reason in sorted({r.value for r in Reason} | set(stats.dead_letters)):
            letters.add_metric((reason,), stats.dead_letters[reason])
        yield letters
        yield from _quota(service.budget)
        yield _counter("skipped_unchanged", "upserts not sent: unchanged", stats.unchanged)
        yield _counter("coalesced", "identifies merged into another", stats.outcomes["coalesced"])
        yield _counter(
            "deduplicated",
            "track/page/screen not sent: messageId seen",
            stats.outcomes["deduplicated"],
        )
        engine = service.engine
        in_flight = engine.offsets.in_flight if engine is not None else 0
        yield _gauge("in_flight", "events fetched and not finished", in_flight)
        buffered = engine.buffered if engine is not None else 0
        yield _gauge("buffered", "events queued or in progress", buffered)
        folded = engine.dispatcher.folded if engine is not None else 0
        yield _gauge("folded_waiting", "events waiting folded: a line in a digest or merge", folded)
        yield _counter("digests", "digest activities delivered (two events or more)", stats.digests)
        yield _gauge(
            "events_per_call", "finished events per Freshsales call", stats.events_per_call
        )
        waiting = backlog(service)
        if waiting is not None:
            yield _gauge("backlog_events", "unfinished events of assigned partitions", waiting)
        eta = drain_eta(service)
        if eta is not None:
            yield _gauge("drain_eta_seconds", "time to work off the backlog at the quota", eta)
        yield from _identities(service)
        yield from _partitions(engine)
        yield _histogram(
            "delivery_latency_seconds", "fetch to finish, per finished event", stats.latency
        )
        yield _histogram(
            "new_person_latency_seconds",
            "produce to Freshsales, for people not delivered yet (new leads)",
            stats.new_people,
        )
        is_ready, _ = ready(service)
        yield _gauge("ready", "1 when /readyz answers 200", 1 if is_ready else 0)
        yield _gauge(
            "circuit_open", "1 while the circuit breaker holds calls", service.breaker.is_open()
        )
        yield _gauge(
            "key_refused",
            "1 while delivery is stopped because Freshsales refused the key or the address",
            service.standing.refusal is not None,
        )
        age = fetch_loop_age_s(service)
        if age is not None:
            yield _gauge("fetch_loop_age_seconds", "time since the fetch loop last turned", age)


def registry_for(service: Observed) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(service))
    return registry


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, value=value)


def _events(stats: Stats) -> Iterator[Metric]:
    events = CounterMetricFamily(
        PREFIX + "events", "events finished, by type and outcome", labels=("type", "outcome")
    )
    for (kind, outcome), count in sorted(stats.by_type.items()):
        events.add_metric((kind, outcome), count)
    yield events


def _quota(budget: Budget) -> Iterator[Metric]:
    state = budget.state()
    families = {
        "limit": GaugeMetricFamily(
            PREFIX + "quota_limit", "calls this process may make per window now", labels=["window"]
        ),
        "used": GaugeMetricFamily(
            PREFIX + "quota_used", "our calls in the window", labels=["window"]
        ),
        "remaining": GaugeMetricFamily(
            PREFIX + "quota_remaining", "calls left in the window", labels=["window"]
        ),
        "capacity": GaugeMetricFamily(
            PREFIX + "quota_capacity",
            "calls per window the deployment believes the account leaves it (the plan times"
            " the share, less what 429s taught)",
            labels=["window"],
        ),
    }
    for window in (state.minute, state.hour):
        families["limit"].add_metric([window.name], window.limit)
        families["used"].add_metric([window.name], window.used)
        families["remaining"].add_metric([window.name], window.remaining)
        families["capacity"].add_metric([window.name], window.capacity)
    yield from families.values()
    yield _gauge(
        "quota_share",
        "this replica's fraction of the account's quota: the share times its part of the topic",
        state.share,
    )
    yield _counter("quota_wait_seconds", "time calls waited for the quota", budget.waited_s)
    yield _gauge("quota_rate_factor", "share of the quota usable after 429s", state.factor)
    yield _counter("rate_limited", "429 answers", state.rate_limited)
    yield _counter(
        "rate_limit_incidents",
        "429 incidents: the 429s of calls in flight together count once",
        state.incidents,
    )


def _identities(service: Observed) -> Iterator[Metric]:
    book, stats, topic = service.book, service.stats, service.identity_topic
    yield _gauge("identities_people", "people the identity map knows", len(book))
    yield _gauge(
        "identities_known",
        "identities (emails, userIds, anonymousIds) that name them",
        book.identities,
    )
    yield _gauge(
        "identities_loaded_records",
        "identity topic entries (people, aliases, deletions) read at start-up",
        topic.loaded if topic is not None else 0,
    )
    yield _gauge(
        "identities_load_seconds",
        "time the start-up read of the identity map took (0 until it is done)",
        topic.load_s if topic is not None and topic.load_s is not None else 0.0,
    )
    yield _counter(
        "identity_link_conflicts",
        "identities a second person claimed (first identification wins: not moved)",
        book.conflicts,
    )
    events, identities = waiting(service)
    yield _gauge("waiting_events", "events of people not known yet, waiting (this replica)", events)
    yield _gauge("waiting_identities", "identities those events wait for", identities)
    yield _counter(
        "stitched_events",
        "waiting events delivered on their person once known (a Before sign-up history)",
        stats.after_wait["stitched"],
    )
    forgets = CounterMetricFamily(
        PREFIX + "forget_requests",
        "deletion requests (delete messages) by outcome: forgotten, nobody_found, refused,"
        " failed, abandoned",
        labels=("outcome",),
    )
    for outcome in sorted({"forgotten", "nobody_found", "refused", "failed"} | set(stats.forgets)):
        forgets.add_metric((outcome,), stats.forgets[outcome])
    yield forgets
    yield _gauge(
        "identities_suppressed",
        "identities of people who asked to be forgotten: their events are suppressed",
        book.suppressed,
    )
    yield _counter(
        "expired_events",
        "waiting events whose wait ended without their person (anonymous ones; those with a"
        " userId are dead-lettered)",
        stats.after_wait["expired"],
    )


def _partitions(engine: Engine | None) -> Iterator[Metric]:
    committed = GaugeMetricFamily(
        PREFIX + "committed_offset", "last committed position", labels=["topic", "partition"]
    )
    lag = GaugeMetricFamily(
        PREFIX + "consumer_lag",
        "high watermark minus committed position",
        labels=["topic", "partition"],
    )
    oldest: float | None = None
    now = time.monotonic()
    for partition in list(engine.offsets) if engine is not None else ():
        assert engine is not None
        tracker = engine.offsets[partition]
        labels = [partition.topic, str(partition.partition)]
        committed.add_metric(labels, tracker.committed)
        end = engine.high_watermark(partition)
        if end is not None:
            lag.add_metric(labels, max(0, end - tracker.committed))
        if engine.waits_in(partition):
            continue  # a visitor's events wait there for days by design: not a stuck event
        since = tracker.oldest_fetched_at
        if since is not None:
            oldest = max(oldest or 0.0, now - since)
    yield committed
    yield lag
    yield _gauge(
        "oldest_unfinished_age_seconds",
        "how long the oldest unfinished event has waited since it was fetched",
        oldest or 0.0,
    )


def _histogram(name: str, documentation: str, latency: Latency) -> Metric:
    histogram = HistogramMetricFamily(PREFIX + name, documentation)
    histogram.add_metric([], buckets=latency.cumulative(), sum_value=latency.total_s)
    return histogram
