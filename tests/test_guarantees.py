"""The delivery guarantees of docs/guarantees.md, each proved on a real broker against the simulator
misbehaving as Freshsales can: failing, dropping, slow, throttling, down for a while, flaky while
the service starts, or refusing a key that an admin revoked."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import orjson
import pytest

from consumer.ops.observed import ready
from sandbox.audit import UserStream, audit
from sandbox.faultmix import every_nth_request
from sandbox.simulator import Fault, RunningSimulator, Simulator, SimulatorConfig, running
from tests.evidence_support import dead_letters, service_env, service_process
from tests.kafka_support import KafkaTopic
from tests.service_support import (
    API_KEY,
    Running,
    produce_keyed,
    service_running,
    settings_for,
    until_committed,
)


def api_calls(served: RunningSimulator, since: int = 0) -> list[str]:
    """``METHOD path`` of the API requests Freshsales received, from the ``since``-th on."""
    return [f"{r.method} {r.path}" for r in served.simulator.requests[since:] if r.flavor]


def standing(run: Running) -> tuple[bool, str | None]:
    """Whether the key is accepted, and why delivery stopped (None: it did not)."""
    return run.service.standing.key_accepted, run.service.standing.refusal


def fetched(run: Running) -> int:
    """Events the service has taken from Kafka so far (finished or still in its buffer)."""
    assert run.service.engine is not None
    return run.service.stats.finished + run.service.engine.buffered


@pytest.mark.slow
async def test_through_5xx_drops_slow_answers_and_429s_every_event_arrives_once(
    kafka_topic: KafkaTopic,
) -> None:
    # About one call in six fails at random (500/502/503 or a dropped connection); on top, one
    # in 25 answers 0.4 s late and one in 100 is a 429 asking for a one-second pause.
    config = SimulatorConfig(
        per_minute=0,
        per_hour=0,
        fail_rate=0.1,
        drop_rate=0.05,
        latency_ms=5,
        seed=7,
        log_limit=0,
    )
    stream = UserStream(users=25, activities=2, run=kafka_topic.name)
    records = stream.take(300)
    async with running(Simulator(config)) as served:
        sim = served.simulator
        settings = settings_for(kafka_topic, served, MAX_IN_FLIGHT="8")
        async with (
            service_running(settings) as run,
            every_nth_request(sim, 25, Fault(delay_s=0.4)),
            every_nth_request(sim, 100, Fault(status=429, retry_after="1")),
        ):
            await produce_keyed(kafka_topic, records)
            # Backoff with full jitter: the unlucky event failing six times in a row (~1 run in
            # 50 at this fault rate) waits up to 32 s before its seventh try, and must still pass.
            await run.until_finished(len(records), limit_s=120)
            stats = run.service.stats
        statuses = [r.status for r in sim.requests if r.fault]
        result = audit(sim, stream.produced)
    assert stats.dead_letters == {}
    # The 429s make calls wait for the quota: what waits behind them is folded, never lost.
    assert set(stats.outcomes) <= {"delivered", "coalesced", "folded"}
    assert stats.retries > 0
    assert {500, 502, 503, 429} <= set(statuses)
    assert None in statuses  # dropped connections
    assert result.lost == 0
    assert result.missing_activities == ()
    # Every failure here happens before Freshsales acts, so nothing may repeat.
    assert result.duplicate_activities == 0


async def test_an_activity_whose_answer_outlasts_the_timeout_is_created_twice(
    kafka_topic: KafkaTopic,
) -> None:
    # The limit of at-least-once: Freshsales acted, the answer came too late, the retry acts
    # again. Sales activities have no idempotency key, so the timeline shows the event twice;
    # the ledger cannot help, it only learns of deliveries that were answered.
    stream = UserStream(users=1, activities=1, run=kafka_topic.name)
    config = SimulatorConfig(per_minute=0, per_hour=0, log_limit=0)
    async with running(Simulator(config)) as served:
        settings = settings_for(kafka_topic, served, FRESHSALES_TIMEOUT_SECONDS="1")
        async with service_running(settings) as run:
            await produce_keyed(kafka_topic, stream.take(1))  # the person
            await run.until_finished(1)
            served.simulator.inject(Fault(delay_s=1.5))  # then the activity's answer is late
            await produce_keyed(kafka_topic, stream.take(1))
            await run.until_finished(2)
            stats = run.service.stats
        # The retry may finish before the late first call is served: wait for that one too.
        async with asyncio.timeout(10):
            while len(served.simulator.state("suite").get("sales_activities", [])) < 2:
                await asyncio.sleep(0.05)
        result = audit(served.simulator, stream.produced)
    assert stats.outcomes == {"delivered": 2}
    assert stats.retries == 1
    assert result.duplicate_activities == 1


@pytest.mark.slow
async def test_an_outage_opens_the_circuit_pauses_fetching_and_everything_arrives_after_it(
    kafka_topic: KafkaTopic,
) -> None:
    # Without coalescing, each fetched event is either finished or buffered: fetching is visible.
    stream = UserStream(users=20, activities=2, run=kafka_topic.name)
    config = SimulatorConfig(per_minute=0, per_hour=0, log_limit=0)
    async with running(Simulator(config)) as served:
        sim = served.simulator
        settings = settings_for(kafka_topic, served, COALESCE_IDENTIFIES="false")
        async with service_running(settings) as run:
            await produce_keyed(kafka_topic, stream.take(60))
            await run.until_finished(60)

            sim.inject(Fault(status=503), times=1_000_000)  # Freshsales is down
            await produce_keyed(kafka_topic, stream.take(100))
            async with asyncio.timeout(20):
                while not run.service.breaker.is_open():
                    await asyncio.sleep(0.02)
            # The backlog grows in Kafka while the circuit is open, not in the service.
            await produce_keyed(kafka_topic, stream.take(900))
            held, calls_before = fetched(run), len(sim.requests)
            most_buffered = 0
            until = time.monotonic() + 4
            while time.monotonic() < until:
                assert run.service.engine is not None
                most_buffered = max(most_buffered, run.service.engine.buffered)
                assert fetched(run) == held
                await asyncio.sleep(0.05)
            assert run.service.breaker.is_open()
            assert api_calls(served, calls_before) == []  # no hammering of a sick API
            assert run.service.stats.dead_letters == {}

            sim.clear_faults()  # Freshsales is back
            await run.until_finished(1060)
            stats = run.service.stats
        result = audit(sim, stream.produced)
    assert held <= 160
    assert most_buffered <= 100
    assert stats.dead_letters == {}
    assert stats.outcomes["delivered"] == 1060
    assert (result.lost, result.missing_activities, result.versions_never_sent) == (0, (), 0)
    assert result.duplicate_activities == 0


async def test_a_key_revoked_mid_run_stops_consumption_without_dead_letters_until_it_works(
    kafka_topic: KafkaTopic,
) -> None:
    stream = UserStream(users=10, activities=2, run=kafka_topic.name)
    config = SimulatorConfig(api_key=API_KEY, per_minute=0, per_hour=0, log_limit=0)
    async with running(Simulator(config)) as served:
        sim = served.simulator
        async with service_running(settings_for(kafka_topic, served)) as run:
            await produce_keyed(kafka_topic, stream.take(30))
            await run.until_finished(30)
            assert standing(run) == (True, None)

            sim.set_api_key("regenerated-by-an-admin")  # the service's key is now refused
            await produce_keyed(kafka_topic, stream.take(30))
            async with asyncio.timeout(10):
                while run.service.standing.refusal is None:
                    await asyncio.sleep(0.02)
            finished, calls_before = run.service.stats.finished, len(sim.requests)
            await asyncio.sleep(2)
            assert run.service.stats.finished == finished
            assert run.service.stats.dead_letters == {}
            auth_ok, stopped_for = standing(run)
            assert not auth_ok
            assert "401" in str(stopped_for)
            assert ready(run.service) == (False, f"stopped: {stopped_for}")
            assert fetched(run) <= 60
            # Only the key re-checks (every 0.5 s here) reach Freshsales.
            rechecks = api_calls(served, calls_before)
            assert set(rechecks) == {"GET /crm/sales/api/selector/owners"}
            assert 2 <= len(rechecks) <= 6

            sim.set_api_key(API_KEY)  # the key works again
            await run.until_finished(60)
            resumed, stats = standing(run), run.service.stats
        result = audit(sim, stream.produced)
    assert resumed == (True, None)
    assert stats.dead_letters == {}
    assert (result.lost, result.missing_activities) == (0, ())


async def test_a_start_while_30_percent_of_calls_fail_delivers_within_seconds_and_loses_nothing(
    kafka_topic: KafkaTopic,
) -> None:
    # Each identify names a custom field the account lacks: read with the contacts' catalog, the
    # trait is dropped and reported; sent without it, Freshsales refuses the upsert (400).
    people = [
        (
            f"u{n}".encode(),
            orjson.dumps(
                {
                    "type": "identify",
                    "userId": f"u{n}",
                    "traits": {"email": f"u{n}@example.com", "cfShoeSize": 42},
                }
            ),
        )
        for n in range(10)
    ]
    config = SimulatorConfig(api_key=API_KEY, per_minute=0, per_hour=0, log_limit=0)
    async with running(Simulator(config)) as served:
        sim = served.simulator
        # 3 of the start-up's 10 calls fail: a selector, the industry types and the contacts'
        # field catalog, once each (the seven reads, in order, and their retries).
        for status in (503, None, None, None, 500, None, 502, None, None, None):
            sim.inject(Fault(status=status))
        await produce_keyed(kafka_topic, people)
        started = time.monotonic()
        async with service_running(settings_for(kafka_topic, served)) as run:
            await run.until_finished(len(people), limit_s=15)
            elapsed = time.monotonic() - started
            stats = run.service.stats
        failed = [f"{r.path.split('/api/')[1]} {r.status}" for r in sim.requests if r.fault]
        upserts = [r.body["contact"] for r in sim.requests if r.path.endswith("contacts/upsert")]
        statuses = {r.status for r in sim.requests}
    assert failed == [
        "selector/sales_activity_types 503",
        "selector/industry_types 500",
        "settings/contacts/fields 502",
    ]
    assert elapsed < 10  # the reads' three pauses are at most 0.5 s each
    assert stats.dead_letters == {}
    assert stats.outcomes["delivered"] == len(people)
    assert 400 not in statuses
    assert len(upserts) == len(people)
    assert all("cf_shoe_size" not in c.get("custom_field", {}) for c in upserts)


SECRET_KEY = "fsk-7Hq2x-only-in-this-test"
SASL_PASSWORD = "kafka-pa55-only-in-this-test"
SECRETS = (SECRET_KEY, f"Token token={SECRET_KEY}", SASL_PASSWORD)


def echoing(status: int, html: bool = False, key: str = SECRET_KEY) -> Fault:
    """An error answer that repeats the request's Authorization header, as some proxies do."""
    echo = f"request had Authorization: Token token={key}"
    if html:
        return Fault(status=status, body=f"<html><pre>{echo}</pre></html>".encode())
    return Fault(status=status, body=orjson.dumps({"errors": {"code": status, "message": [echo]}}))


async def test_the_key_and_password_never_reach_the_logs_at_debug_even_when_errors_echo_them(
    kafka_topic: KafkaTopic,
) -> None:
    stream = UserStream(users=4, activities=1, run=kafka_topic.name)
    records = stream.take(16)
    config = SimulatorConfig(api_key=SECRET_KEY, per_minute=0, per_hour=0)
    async with running(Simulator(config)) as served:
        sim = served.simulator
        sim.inject(echoing(401))  # the first start-up read is refused, echoing the key
        env = service_env(
            kafka_topic,
            served,
            FRESHSALES_API_KEY=SECRET_KEY,
            KAFKA_SASL_PASSWORD=SASL_PASSWORD,
            LOG_LEVEL="debug",
        )
        async with service_process(env) as service:
            async with asyncio.timeout(20):
                while sum(r.status == 200 for r in sim.requests) < 6:  # the account is read
                    await asyncio.sleep(0.05)
            for fault in (echoing(500), echoing(502, html=True), echoing(400), Fault(drop=True)):
                sim.inject(fault)
            await produce_keyed(kafka_topic, records)
            await until_committed(kafka_topic, len(records))
            service.process.send_signal(signal.SIGTERM)
            assert await service.process.wait() == 0
            output = service.output()
            events = {line.get("event") for line in service.log_lines()}
    # The paths that carry Freshsales' words were all taken…
    assert {"account_unreadable", "retrying", "dead_lettered", "delivered"} <= events
    assert "Authorization: Token token=[redacted]" in output
    # …and no secret made it out, in any form.
    for secret in SECRETS:
        assert secret not in output


async def test_a_dead_letter_never_carries_the_key_that_an_error_echoed(
    kafka_topic: KafkaTopic,
) -> None:
    config = SimulatorConfig(api_key=API_KEY, per_minute=0, per_hour=0)
    async with (
        running(Simulator(config)) as served,
        service_running(settings_for(kafka_topic, served)) as run,
    ):
        await run.until_assigned()
        served.simulator.inject(echoing(400, key=API_KEY))
        await produce_keyed(kafka_topic, UserStream(1, run=kafka_topic.name).take(1))
        await run.until_finished(1)
    (letter,) = await dead_letters(kafka_topic, 1)
    assert letter.header("fsd-reason") == "rejected"
    assert "[redacted]" in letter.header("fsd-error")
    assert all(API_KEY not in (value or b"").decode() for value in letter.headers.values())


async def test_a_failed_sasl_handshake_does_not_show_the_password(kafka_topic: KafkaTopic) -> None:
    config = SimulatorConfig(api_key=SECRET_KEY, per_minute=0, per_hour=0)
    async with running(Simulator(config)) as served:
        env = service_env(
            kafka_topic,
            served,
            FRESHSALES_API_KEY=SECRET_KEY,
            KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
            KAFKA_SASL_USERNAME="destination",
            KAFKA_SASL_PASSWORD=SASL_PASSWORD,
            LOG_LEVEL="debug",
        )
        async with service_process(env) as service:
            # The embedded broker speaks no SASL: the service cannot connect, says why (from
            # aiokafka, as JSON like every other line), keeps trying, and stops when told to.
            async with asyncio.timeout(30):
                while not any(
                    "UnsupportedSaslMechanism" in str(line.get("event"))
                    for line in service.log_lines()
                ):
                    await asyncio.sleep(0.2)
            assert any(line.get("event") == "kafka_unreachable" for line in service.log_lines())
            service.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                status = await service.process.wait()
            output = service.output()
    assert status == 0
    for secret in SECRETS:
        assert secret not in output


def own_address() -> str:
    """An address of this machine that is not loopback (0.0.0.0 reaches it too, on Linux)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.255", 9))  # no packet is sent: this only picks a route
            address: str = probe.getsockname()[0]
        except OSError:
            return "0.0.0.0"
    return "0.0.0.0" if address.startswith("127.") else address


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port on every interface that records whether anything connected to it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield sock


def connected(sock: socket.socket) -> bool:
    try:
        peer, _ = sock.accept()
    except BlockingIOError:
        return False
    peer.close()
    return True


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ({"FRESHSALES_DOMAIN": "127.0.0.1:{port}"}, "not a Freshsales host"),
        ({"FRESHSALES_DOMAIN": "localhost:{port}"}, "not an account name"),
        ({"FRESHSALES_DOMAIN": "http://{address}:{port}"}, "Freshsales is reached over https"),
        ({"FRESHSALES_BASE_URL": "http://{address}:{port}/crm/sales/api"}, "loopback"),
        (
            {
                "FRESHSALES_BASE_URL": "http://127.0.0.1:{port}/crm/sales/api",
                "FRESHSALES_API_KEY": "",
            },
            "FRESHSALES_API_KEY is required",
        ),
        (
            {
                "FRESHSALES_BASE_URL": "http://127.0.0.1:{port}/crm/sales/api",
                "FRESHSALES_API_KEY": None,
            },
            "FRESHSALES_API_KEY is required",
        ),
        (
            {
                "FRESHSALES_BASE_URL": "http://127.0.0.1:{port}/crm/sales/api",
                "FRESHSALES_API_KEY": "two words",
            },
            "FRESHSALES_API_KEY is empty or contains spaces",
        ),
    ],
    ids=[
        "ip-as-domain",
        "localhost-as-domain",
        "http-domain",
        "http-base-url-off-box",
        "empty-key",
        "no-key",
        "key-with-space",
    ],
)
def test_a_setting_that_could_leak_the_key_is_refused_at_start_before_any_connection(
    listener: socket.socket, setting: dict[str, str | None], complaint: str
) -> None:
    port = listener.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "FRESHSALES_API_KEY": SECRET_KEY,
        "HTTP_PORT": "0",
    }
    for name, value in setting.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value.format(port=port, address=own_address())
    done = subprocess.run(
        [sys.executable, "-m", "consumer", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert complaint in done.stdout + done.stderr
    assert not connected(listener), "something connected before the configuration was refused"
    assert SECRET_KEY not in done.stdout + done.stderr
