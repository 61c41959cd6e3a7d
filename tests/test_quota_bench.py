"""The quota benchmark's claim, in small: a corpus of sessions costs exactly the minimum."""

from __future__ import annotations

import pytest

from bench.quota_bench import START_UP_READS, measure, minimum_calls
from sandbox.broker import Broker


@pytest.mark.slow
async def test_sessions_cost_the_minimum_and_a_full_reread_repeats_no_activity(
    kafka_broker: Broker,
) -> None:
    users, sessions = 8, 3
    measured = await measure(kafka_broker, users, sessions)
    scenarios = measured["scenarios"]
    assert isinstance(scenarios, dict)
    assert scenarios["service"]["event_calls"] == minimum_calls(users, sessions)
    assert scenarios["service"]["start_up_reads"] == START_UP_READS
    # The later identifies repeat the first: without skip-unchanged each costs a call.
    assert scenarios["service_without_skip_unchanged"]["event_calls"] == users * sessions * 4
    # Read again from offset zero with the same ledger: only the identifies go out again.
    assert scenarios["restart_from_zero"]["event_calls"] == users
    assert scenarios["restart_from_zero"]["outcomes"]["deduplicated"] == users * sessions * 3
