"""``dlq replay`` end to end: events rejected by Freshsales are dead-lettered by the real service,
the cause goes away, the command line replays them, and each arrives exactly once."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import orjson

from sandbox.simulator import Fault, Simulator, SimulatorConfig, running
from tests.kafka_support import KafkaTopic
from tests.replay_support import read_all, replay_settings, run_replay
from tests.service_support import produce, service_running, settings_for

IDENTIFY = {"type": "identify", "userId": "u1", "traits": {"email": "u1@example.com"}}
NO_EMAIL = {
    "type": "identify",
    "userId": "u2",
    "messageId": "no-email",
    "traits": {"email": "not-an-address"},
}


def track(n: int) -> bytes:
    return orjson.dumps(
        {
            "type": "track",
            "userId": "u1",
            "event": f"Event {n}",
            "messageId": f"m{n}",
            "timestamp": "2026-11-29T12:00:00Z",
        }
    )


async def cli_replay(topic: KafkaTopic, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    """The command as an operator runs it: the service's Kafka environment, no Freshsales one."""
    env = {"PATH": os.environ.get("PATH", ""), **topic.broker.service_env(topic.name, "unused")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        "dlq",
        "replay",
        "--json",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, [orjson.loads(line) for line in out.splitlines()], err.decode()


def activity_titles(simulator: Simulator) -> list[str]:
    return sorted(a["title"] for a in simulator.state("suite")["sales_activities"])


async def test_rejected_events_are_replayed_once_fixed_and_arrive_exactly_once(
    kafka_topic: KafkaTopic,
) -> None:
    async with running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served:
        settings = settings_for(kafka_topic, served)
        async with service_running(settings) as run:
            await produce(kafka_topic, [orjson.dumps(IDENTIFY)])
            await run.until_finished(1)
            # One user's events, keyed alike, go one at a time: these two 400s reject m1 and m2.
            served.simulator.inject(Fault(status=400), times=2)
            await produce(kafka_topic, [track(n) for n in range(1, 5)], key=b"u1")
            await produce(kafka_topic, [orjson.dumps(NO_EMAIL)])
            await run.until_finished(6)
            assert run.service.stats.dead_letters == {"rejected": 2, "invalid_email": 1}
            assert activity_titles(served.simulator) == ["Event 3", "Event 4"]
            assert served.simulator.pending_faults == 0  # the cause is gone

            status, lines, err = await cli_replay(kafka_topic, "--reason", "rejected", "--dry-run")
            assert status == 0, err
            *listed, summary = lines
            assert sorted(e["message_id"] for e in listed) == ["m1", "m2"]
            assert {e["action"] for e in listed} == {"would_replay"}
            assert summary["summary"]["scanned"] == 3
            assert summary["summary"]["selected"] == 2
            assert summary["summary"]["replayed"] == 0
            source = await read_all(kafka_topic.bootstrap_servers, kafka_topic.name)
            assert len(source) == 6  # the dry run published nothing

            status, lines, err = await cli_replay(kafka_topic, "--reason", "rejected")
            assert status == 0, err
            assert lines[-1]["summary"]["replayed"] == 2
            assert lines[-1]["summary"]["by_reason"] == {"rejected": 2}
            await run.until_finished(8)
            source = await read_all(kafka_topic.bootstrap_servers, kafka_topic.name)
            counts = [dict(r.headers).get("fsd-replay-count") for r in source]
            assert sorted(c or b"-" for c in counts) == [b"-"] * 6 + [b"1"] * 2
            assert activity_titles(served.simulator) == [f"Event {n}" for n in range(1, 5)]
            assert run.service.stats.dead_letters == {"rejected": 2, "invalid_email": 1}


async def test_an_event_that_fails_again_is_dead_lettered_again_and_counts_its_replays(
    kafka_topic: KafkaTopic,
) -> None:
    async with (
        running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served,
        service_running(settings_for(kafka_topic, served)) as run,
    ):
        await run.until_assigned()
        served.simulator.inject(Fault(status=400), times=2)  # the first replay fails too
        await produce(kafka_topic, [orjson.dumps(IDENTIFY)])
        await run.until_finished(1)
        first, _, _ = await run_replay(replay_settings(kafka_topic))
        assert first.replayed == 1
        await run.until_finished(2)
        assert run.service.stats.dead_letters == {"rejected": 2}

        again, listed, _ = await run_replay(replay_settings(kafka_topic))
        assert again.replayed == 2  # both letters: nothing marks a letter as replayed
        assert sorted(e.replay_count for e in listed) == [1, 2]
        await run.until_finished(4)
        assert run.service.stats.dead_letters == {"rejected": 2}
        contacts = served.simulator.state("suite")["contacts"]
        assert [c["email"] for c in contacts] == ["u1@example.com"]  # upserted, not doubled


async def test_replaying_twice_creates_no_duplicate_activities(kafka_topic: KafkaTopic) -> None:
    async with (
        running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served,
        service_running(settings_for(kafka_topic, served)) as run,
    ):
        await produce(kafka_topic, [orjson.dumps(IDENTIFY)], key=b"u1")
        await run.until_finished(1)
        served.simulator.inject(Fault(status=400))
        await produce(kafka_topic, [track(1)], key=b"u1")
        await run.until_finished(2)
        for finished in (3, 4):  # the DLQ is unchanged, so the second run publishes again
            summary, _, _ = await run_replay(replay_settings(kafka_topic))
            assert summary.replayed == 1
            await run.until_finished(finished)
        assert activity_titles(served.simulator) == ["Event 1"]
        assert run.service.stats.outcomes["deduplicated"] == 1
