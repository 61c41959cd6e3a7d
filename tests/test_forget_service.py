"""The right to be forgotten through the real service, the embedded broker and the simulator:
Segment's ``delete`` message and the operator's ``forget`` command erase the person from
Freshsales (the purge, not the recycle bin), and nothing of theirs is delivered again — after a
restart, on another replica, by userId, email or their browser's anonymousId — while everyone
else's events go on as before."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator

import orjson
import pytest

from sandbox.simulator import RunningSimulator, Simulator, SimulatorConfig, running
from tests.evidence_support import LetterReader, service_env, service_process
from tests.kafka_support import KafkaTopic
from tests.service_support import produce_keyed, service_running, settings_for
from translate import email_key

ADA, BO = "ada@acme.example", "bo@acme.example"


@pytest.fixture
async def served() -> AsyncIterator[RunningSimulator]:
    async with running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served:
        yield served


def record(key: str, **event: object) -> tuple[bytes, bytes]:
    return key.encode(), orjson.dumps(event)


def signed_up() -> list[tuple[bytes, bytes]]:
    """Ada and Bo sign up (database userIds, their browsers' anonymousIds), then act."""
    return [
        record(
            "4711",
            type="identify",
            userId="4711",
            anonymousId="a-ada",
            traits={"email": ADA, "firstName": "Ada"},
        ),
        record(
            "4712",
            type="identify",
            userId="4712",
            anonymousId="a-bo",
            traits={"email": BO, "firstName": "Bo"},
        ),
        record("4711", type="track", userId="4711", event="Report Exported", messageId="t-ada-1"),
        record("4712", type="track", userId="4712", event="Report Exported", messageId="t-bo-1"),
    ]


def afterwards() -> list[tuple[bytes, bytes]]:
    """Ada's events after her request, every way they can name her; then one of Bo's."""
    return [
        record("4711", type="identify", userId="4711", traits={"email": ADA, "plan": "pro"}),
        record("4711", type="track", userId="4711", event="Logged In", messageId="t-ada-2"),
        record("a-ada", type="page", anonymousId="a-ada", name="Pricing", messageId="p-ada"),
        record("9999", type="identify", userId="9999", traits={"email": ADA}),  # a new account
        record("4712", type="track", userId="4712", event="Logged In", messageId="t-bo-2"),
    ]


def contacts(served: RunningSimulator) -> dict[str, dict[str, object]]:
    return {str(c["email"]): c for c in served.simulator.state("suite")["contacts"]}


def activity_ids(served: RunningSimulator) -> list[object]:
    return [a["targetable_id"] for a in served.simulator.state("suite")["sales_activities"]]


def forget_calls(served: RunningSimulator) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in served.simulator.requests
        if r.path.endswith("/forget") or "filtered_search" in r.path
    ]


async def until(condition: object, limit_s: float = 30.0) -> None:
    assert callable(condition)
    async with asyncio.timeout(limit_s):
        while not condition():
            await asyncio.sleep(0.1)


async def no_dead_letters(topic: KafkaTopic) -> None:
    async with LetterReader(topic.bootstrap_servers, f"{topic.name}.dlq") as letters:
        assert await letters.take(1, timeout_s=1.0) == []


async def test_a_delete_message_erases_the_person_and_nothing_of_theirs_comes_back_after_a_restart(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    env = service_env(kafka_topic, served, LOG_LEVEL="info")
    await produce_keyed(kafka_topic, signed_up())
    async with service_process(env) as first:
        await until(lambda: len(activity_ids(served)) == 2)
        ada = int(str(contacts(served)[ADA]["id"]))
        bo = int(str(contacts(served)[BO]["id"]))
        delete = record("4711", type="delete", userId="4711", messageId="del-1")
        await produce_keyed(kafka_topic, [delete])
        await until(lambda: ADA not in contacts(served))
        await until(lambda: any(line.get("event") == "forgotten" for line in first.log_lines()))
        first.process.send_signal(signal.SIGTERM)
        assert await first.process.wait() == 0
        lines = first.log_lines()
    (audit,) = [line for line in lines if line.get("event") == "forgotten"]
    assert audit["people"] == [{"id": ada, "kind": "contact", "outcome": "forgotten"}]
    assert audit["forget"] == "forgotten"
    assert len(audit["identity"]) == 12  # a hash's first hex digits, not the userId
    # The purge, with her activities: not the recycle bin.
    assert activity_ids(served) == [bo]
    assert served.simulator.state("suite")["recycle_bin"] == []

    # Everything that names her afterwards, read by a new process: it knows only what Kafka says.
    await produce_keyed(kafka_topic, afterwards())
    async with service_process(env) as second:
        await until(lambda: len(activity_ids(served)) == 2)  # Bo's second track
        await until(
            lambda: sum(line.get("event") == "suppressed" for line in second.log_lines()) == 4
        )
        second.process.send_signal(signal.SIGTERM)
        assert await second.process.wait() == 0
        after = [*lines[lines.index(audit) + 1 :], *second.log_lines()]
        output = second.output()
    assert set(contacts(served)) == {BO}  # nobody recreated
    assert activity_ids(served) == [bo, bo]
    assert forget_calls(served) == [f"DELETE /crm/sales/api/contacts/{ada}/forget"]
    await no_dead_letters(kafka_topic)
    # No log line after the request carries her email or her userId.
    assert after
    for line in after:
        text = orjson.dumps(line).decode()
        assert ADA not in text, text
        assert "4711" not in text, text
    assert ADA not in output


async def test_a_refused_forget_is_dead_lettered_with_freshsales_message_and_still_suppresses(
    kafka_topic: KafkaTopic,
) -> None:
    config = SimulatorConfig(per_minute=0, per_hour=0, forget_allowed=False)
    async with running(Simulator(config)) as served:
        await produce_keyed(
            kafka_topic,
            [
                *signed_up()[:1],
                record("4711", type="delete", userId="4711", messageId="del-1"),
                record("4711", type="track", userId="4711", event="Logged In", messageId="t-2"),
            ],
        )
        async with service_running(settings_for(kafka_topic, served)) as run:
            await run.until_finished(3)
            stats = run.service.stats
        calls = forget_calls(served)
        still_there = ADA in contacts(served)
    assert stats.outcomes == {"delivered": 1, "dead_lettered": 1, "suppressed": 1}
    assert stats.dead_letters == {"forget_refused": 1}
    assert len(calls) == 1  # refused once: never retried in a loop
    assert still_there  # Freshsales kept her: an admin must allow forgetting, then replay
    async with LetterReader(kafka_topic.bootstrap_servers, f"{kafka_topic.name}.dlq") as letters:
        (letter,) = await letters.take(1)
    assert letter.header("fsd-reason") == "forget_refused"
    assert "not allowed to forget" in letter.header("fsd-error")
    assert orjson.loads(letter.value or b"{}")["type"] == "delete"


async def forget_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        "forget",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_forget_command_erases_a_running_replica_suppresses_and_undo_lifts_it(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    env = service_env(kafka_topic, served)
    await produce_keyed(kafka_topic, signed_up())
    async with service_running(settings_for(kafka_topic, served)) as run:
        await run.until_finished(4)
        ada = int(str(contacts(served)[ADA]["id"]))
        bo = int(str(contacts(served)[BO]["id"]))

        # Who would be forgotten: nothing is.
        status, out, err = await forget_cli(env, "--email", BO, "--dry-run")
        assert (status, err) == (0, ""), err
        assert f"would_forget  (contact {bo} would_forget)" in out
        assert BO in contacts(served)

        status, out, err = await forget_cli(env, "--user-id", "4711", "--json")
        assert status == 0, err
        request, summary = (orjson.loads(line) for line in out.splitlines())
        assert request["outcome"] == "forgotten"
        assert request["people"] == [{"id": ada, "kind": "contact", "outcome": "forgotten"}]
        assert summary == {"summary": {"requests": 1, "done": 1, "failed": 0}}
        assert ADA not in out + err
        assert "4711" not in out + err
        assert ADA not in contacts(served)

        # The running replica follows the identity topic (within a second): her next events
        # are suppressed.
        book = run.service.book
        assert book is not None
        await until(lambda: book.is_suppressed(email_key(ADA)), limit_s=5)
        await produce_keyed(kafka_topic, afterwards()[:3])
        await run.until_finished(7)
        assert run.service.stats.outcomes["suppressed"] == 3
        # Segment's own request for her, arriving after the operator's: nobody left to erase.
        await produce_keyed(kafka_topic, [record("4711", type="delete", userId="4711")])
        await run.until_finished(8)
        deletes = [c for c in forget_calls(served) if c.startswith("DELETE")]
        assert deletes == [f"DELETE /crm/sales/api/contacts/{ada}/forget"]  # exactly once

        # Undone by any identity the request covered (her email; it named her userId).
        status, out, _ = await forget_cli(env, "--undo", "--email", ADA, "--dry-run")
        assert (status, out.splitlines()[0].split()[1]) == (0, "would_lift")
        status, out, _ = await forget_cli(env, "--undo", "--email", ADA)
        assert (status, out.splitlines()[0].split()[1]) == (0, "lifted")
        assert "1 request(s): 1 lifted, 0 failed" in out
        await until(lambda: not book.is_suppressed(email_key(ADA)), limit_s=5)
        await produce_keyed(kafka_topic, afterwards()[:1])  # her identify: a new record
        await run.until_finished(9)
        stats = run.service.stats
    assert stats.outcomes["delivered"] == 5
    assert contacts(served)[ADA]["id"] != ada
    assert stats.dead_letters == {}


async def test_the_forget_command_reports_a_refusal_and_exits_1(kafka_topic: KafkaTopic) -> None:
    config = SimulatorConfig(per_minute=0, per_hour=0, forget_allowed=False)
    async with running(Simulator(config)) as served:
        await produce_keyed(kafka_topic, signed_up()[:1])
        async with service_running(settings_for(kafka_topic, served)) as run:
            await run.until_finished(1)
        status, out, err = await forget_cli(service_env(kafka_topic, served), "--email", ADA)
    assert status == 1, err
    line, summary = out.splitlines()
    assert "refused" in line
    assert "forget_refused: " in line
    assert "not allowed to forget" in line
    assert summary == "1 request(s): 0 done, 1 failed"
