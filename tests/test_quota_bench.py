"""The quota benchmark's claim, in small: a website's sessions cost at most the minimum of a
destination that sends every page view, one call per user less when the visitor's first page
views wait for the sign-up and go as one history activity."""

from __future__ import annotations

import pytest

from bench.quota_bench import START_UP_READS, measure, minimum_calls, minimum_with_history
from sandbox.broker import Broker


@pytest.mark.slow
async def test_sessions_cost_the_minimum_and_a_full_reread_repeats_no_activity(
    kafka_broker: Broker,
) -> None:
    users, sessions = 8, 3
    measured = await measure(kafka_broker, users, sessions)
    scenarios = measured["scenarios"]
    assert isinstance(scenarios, dict)
    service = scenarios["service"]
    # A visitor's first page views read before their sign-up wait and go as one history; those
    # read after it go straight: which are read first varies (another partition, another key).
    stitched = service["after_waiting"].get("stitched", 0)
    saved = stitched - service["histories"]
    assert service["event_calls"] == minimum_calls(users, sessions) - saved
    assert service["event_calls"] >= minimum_with_history(users, sessions)
    assert service["start_up_reads"] == START_UP_READS
    # The later identifies repeat the first: without skip-unchanged each costs a call.
    without = scenarios["service_without_skip_unchanged"]["event_calls"]
    assert users * sessions * 4 - users <= without <= users * sessions * 4
    # Read again from offset zero with the same ledger: only the identifies go out again.
    assert scenarios["restart_from_zero"]["event_calls"] == users
    assert scenarios["restart_from_zero"]["outcomes"]["deduplicated"] == users * sessions * 3
