"""The periodic quota line: a snapshot of the budget and the counters, flattened for the logs."""

from __future__ import annotations

from consumer.engine.stats import Stats
from consumer.freshsales.quota import Quota, QuotaConfig
from consumer.ops.quota_line import quota_fields


def test_the_quota_line_says_what_is_used_left_saved_and_how_long_the_backlog_takes() -> None:
    quota = Quota(QuotaConfig(per_minute=400, per_hour=1000, share=0.5), now=-3600.0)
    quota.assigned(held=1, partitions=2)
    for _ in range(10):
        quota.answered(0.0, quota.sent(0.0))
    stats = Stats(calls=10, unchanged=4, lookups_saved=6, digests=1)
    stats.outcomes.update({"delivered": 11, "coalesced": 3, "folded": 4, "deduplicated": 2})
    fields = quota_fields(
        quota.state(1.0),
        stats,
        waited_s=12.34,
        backlog=1000,
        calls_per_hour=1000.0,
        folded_waiting=40,
    )
    assert fields["minute_used"] == fields["hour_used"] == 10
    assert (fields["minute_remaining"], fields["hour_remaining"]) == (90, 240)
    # Half the account for the deployment, half of that for this replica (one of two partitions)
    assert (fields["share"], fields["minute_capacity"], fields["hour_capacity"]) == (0.25, 200, 500)
    assert (fields["rate_limited"], fields["rate_limit_incidents"], fields["probing"]) == (
        0,
        0,
        False,
    )
    assert (fields["skipped_unchanged"], fields["lookups_saved"]) == (4, 6)
    assert (fields["coalesced"], fields["deduplicated"]) == (3, 2)
    assert fields["calls_per_event"] == 0.5  # 10 calls for 20 finished events
    assert fields["drain_eta_s"] == 1800  # 1,000 events at 0.5 calls each, 1,000 calls per hour
    assert fields["waited_s"] == 12.3
    assert (fields["events_per_call"], fields["digests"], fields["folded"]) == (2.0, 1, 4)
    assert fields["folded_waiting"] == 40


def test_before_anything_is_known_the_estimate_is_left_out() -> None:
    fields = quota_fields(
        Quota(QuotaConfig(per_minute=1, per_hour=1)).state(0.0),
        Stats(),
        waited_s=0.0,
        backlog=None,
        calls_per_hour=1.0,
    )
    assert (fields["backlog"], fields["drain_eta_s"], fields["calls_per_event"]) == (
        None,
        None,
        1.0,
    )
