"""The chaos benchmark's claim, in its 30-second form: SIGKILLs at random moments while
Freshsales fails, drops, stalls and throttles lose no event and dead-letter none."""

from __future__ import annotations

import pytest

from bench.chaos_bench import SHORT, run_chaos, summary
from sandbox.broker import Broker


@pytest.mark.slow
async def test_random_sigkills_under_a_fault_mix_lose_nothing_and_dead_letter_nothing(
    kafka_broker: Broker,
) -> None:
    report = await run_chaos(kafka_broker, SHORT)
    print("\n".join(summary(report)))
    assert report["restarts"] >= 3
    assert report["lost"] == 0
    assert (report["missing_activities"], report["stale_contacts"]) == (0, 0)
    assert report["dead_letters"] == 0
    assert report["unexpected_activities"] == 0
    assert report["final_exit_status"] == 0
