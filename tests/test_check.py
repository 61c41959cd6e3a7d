"""`check`: the real broker and the simulator, each failure named in its own row."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from consumer.commands.check.account import custom_fields, industry_types
from consumer.commands.check.checks import run_checks
from consumer.commands.check.kafka import dlq_result, ledger_result
from consumer.commands.check.report import MOST_CALLS, Report, Result, Status, render_table
from consumer.commands.dryrun import translate_line
from consumer.errors import AccessDenied, FreshsalesError, RejectedError, TransientError
from consumer.settings import Settings
from sandbox.simulator import RunningSimulator, Simulator, SimulatorConfig, running
from sandbox.topics import create_topic, delete_topics
from tests.kafka_support import KafkaTopic
from tests.service_support import API_KEY, produce
from translate import FieldCatalog, Module, Options

TIMEOUT_S = 5.0
NOW = datetime(2026, 11, 30, tzinfo=UTC)
DEALS_FIELDS = "GET settings/deals/fields"


@pytest.fixture
async def served() -> AsyncIterator[RunningSimulator]:
    async with running(Simulator(SimulatorConfig(per_minute=0, per_hour=0))) as served:
        yield served


@pytest.fixture
async def topic(kafka_topic: KafkaTopic) -> AsyncIterator[KafkaTopic]:
    """The test topic with its dead-letter, ledger, identity and waiting topics, as a deployment
    would have them (the service's own are deleted by ``kafka_topic`` itself)."""
    await create_topic(kafka_topic.bootstrap_servers, f"{kafka_topic.name}.dlq", 1)
    for own in ("delivered", "identities", "waiting"):
        await create_topic(kafka_topic.bootstrap_servers, f"{kafka_topic.group_id}.{own}", 1)
    try:
        yield kafka_topic
    finally:
        await delete_topics(kafka_topic.bootstrap_servers, [f"{kafka_topic.name}.dlq"])


def env_for(topic: KafkaTopic, served: RunningSimulator, **extra: str) -> dict[str, str]:
    flavor = extra.get("FRESHSALES_FLAVOR", "suite")
    return {
        **topic.broker.service_env(topic.name, topic.group_id),
        "FRESHSALES_BASE_URL": served.base_url(flavor),
        "FRESHSALES_API_KEY": API_KEY,
        **extra,
    }


async def check(env: Mapping[str, str], timeout_s: float = TIMEOUT_S) -> Report:
    return await run_checks(env, timeout_s=timeout_s, sample=50)


def rows(report: Report) -> dict[str, tuple[Status, str]]:
    return {r.name: (r.status, r.detail) for r in report.results}


def identify(n: int, **traits: object) -> bytes:
    traits = {"email": f"u{n}@example.com", **traits}
    return orjson.dumps({"type": "identify", "userId": f"u{n}", "traits": traits})


async def topic_names(servers: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_everything_passes_with_the_service_s_own_start_up_calls(
    topic: KafkaTopic, served: RunningSimulator, tmp_path: Path
) -> None:
    await produce(topic, [identify(n, cfPlan="Pro") for n in range(5)])
    before = await topic_names(topic.bootstrap_servers)
    catalog = tmp_path / "catalog.json"
    report = await run_checks(
        env_for(topic, served), timeout_s=TIMEOUT_S, sample=50, write_catalog=catalog
    )
    assert {r.status for r in report.results} == {Status.OK}, render_table(report)
    assert report.exit_status == 0
    found = rows(report)
    assert found["source topic"] == (Status.OK, f"{topic.name!r}: 3 partition(s)")
    assert "'Segment Event' = id" in found["activity types"][1]
    assert found["custom traits"][1] == "none ignored in the 5 most recent events"
    sent = [(r.method, r.path.split("/api/")[1]) for r in served.simulator.requests]
    assert found["industry types"] == (
        Status.OK,
        "4: Finance, Healthcare, Retail, Software",
    )
    assert sent == [
        ("GET", "selector/owners"),
        ("GET", "selector/sales_activity_types"),
        ("GET", "selector/lifecycle_stages"),
        ("GET", "selector/industry_types"),
        ("GET", "settings/contacts/fields"),
        ("GET", "settings/sales_accounts/fields"),
        ("GET", "settings/deals/fields"),
    ]
    assert report.freshsales_calls == len(sent) == MOST_CALLS  # the figure --help gives
    assert await topic_names(topic.bootstrap_servers) == before  # nothing created
    # The field lists it read, as the catalog the dry run takes: no call more.
    assert found["field catalog"] == (
        Status.OK,
        f"written to {catalog} (contacts, sales_accounts, deals): translate --catalog {catalog}",
    )
    options = Options(catalog=FieldCatalog.from_json(orjson.loads(catalog.read_bytes())))
    translated = translate_line(identify(1, cfPlan="Pro", cfShoeSize=42), options, NOW, True)
    assert translated["ignored"] == ["cfShoeSize"]


async def run_cli(*args: str, env: Mapping[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        "check",
        *args,
        env={"PATH": os.environ.get("PATH", ""), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_command_prints_a_table_or_one_json_document_and_exits_0(
    topic: KafkaTopic, served: RunningSimulator
) -> None:
    env = env_for(topic, served)
    status, out, err = await run_cli(env=env)
    assert status == 0, out + err
    header, *lines = out.splitlines()
    assert header.split() == ["check", "status", "detail"]
    assert any(line.split()[:3] == ["freshsales", "key", "ok"] for line in lines)
    assert f"OK: 14 ok, 0 warn, 0 fail, 0 skip; {MOST_CALLS} Freshsales API calls" in out
    status, out, err = await run_cli("--json", env=env)
    assert status == 0, out + err
    document = json.loads(out)
    assert (document["verdict"], document["exit_status"]) == ("ok", 0)
    assert document["freshsales_calls"] == MOST_CALLS
    assert [c["name"] for c in document["checks"]][:3] == ["configuration", "kafka", "source topic"]


async def test_a_refused_key_fails_its_row_and_kafka_is_still_checked(
    topic: KafkaTopic, served: RunningSimulator
) -> None:
    report = await check(env_for(topic, served, FRESHSALES_API_KEY="not-the-key"))
    found = rows(report)
    status, detail = found["freshsales key"]
    assert status is Status.FAIL
    assert "refused (401)" in detail
    assert "FRESHSALES_API_KEY" in detail
    assert found["activity types"] == (Status.SKIP, "not checked: the key check failed")
    assert found["kafka"][0] is found["source topic"][0] is Status.OK
    assert found["custom traits"][0] is Status.SKIP
    assert (report.exit_status, report.freshsales_calls) == (1, 1)


async def test_a_missing_activity_type_is_named_with_its_variable(
    topic: KafkaTopic, served: RunningSimulator
) -> None:
    env = env_for(topic, served, FRESHSALES_TRACK_ACTIVITY_TYPE="Webinar Attended")
    report = await check(env)
    status, detail = rows(report)["activity types"]
    assert status is Status.FAIL
    assert detail.startswith(
        "FRESHSALES_TRACK_ACTIVITY_TYPE names a missing sales activity type 'Webinar Attended'"
        " (have: Chat, Email,"
    )
    assert "Page View" not in detail.split("(have:")[0]
    assert rows(report)["custom fields"][0] is Status.OK  # later checks still ran
    assert report.exit_status == 1


async def test_the_screen_activity_type_is_checked_when_set_and_industries_when_needed(
    topic: KafkaTopic, served: RunningSimulator
) -> None:
    env = env_for(
        topic,
        served,
        FRESHSALES_SCREEN_ACTIVITY_TYPE="Screen View",
        EVENTS_EXCLUDE="group,identify",
    )
    report = await check(env)
    found = rows(report)
    status, detail = found["activity types"]
    assert status is Status.FAIL
    assert detail.startswith(
        "FRESHSALES_SCREEN_ACTIVITY_TYPE names a missing sales activity type 'Screen View'"
    )
    # No group and no identify gets through: the service does not read the industry types.
    assert found["industry types"] == (
        Status.SKIP,
        "not read: the event filters drop every account",
    )
    sent = [r.path.split("/api/")[1] for r in served.simulator.requests]
    assert "selector/industry_types" not in sent


async def test_an_account_without_the_page_activity_type_fails(topic: KafkaTopic) -> None:
    config = SimulatorConfig(activity_types=("Chat", "Segment Event"))
    async with running(Simulator(config)) as served:
        report = await check(env_for(topic, served))
    status, detail = rows(report)["activity types"]
    assert status is Status.FAIL
    assert detail.startswith("FRESHSALES_PAGE_ACTIVITY_TYPE names a missing")


async def test_stage_map_stages_and_the_default_owner_are_checked(
    topic: KafkaTopic, served: RunningSimulator
) -> None:
    env = env_for(
        topic,
        served,
        FRESHSALES_STAGE_MAP="Order Completed=Customer,Churned=Former Customer",
        FRESHSALES_DEFAULT_OWNER_ID="12345",
    )
    found = rows(await check(env))
    assert found["lifecycle stages"] == (
        Status.FAIL,
        "FRESHSALES_STAGE_MAP names a missing lifecycle stage 'Former Customer'"
        " (have: Customer, Evangelist, Lead, Sales Qualified Lead)",
    )
    assert found["default owner"] == (
        Status.FAIL,
        "FRESHSALES_DEFAULT_OWNER_ID: 12345 is not a user of the account",
    )


async def test_classic_reads_leads_fields_and_has_no_stages(
    topic: KafkaTopic, served: RunningSimulator
) -> None:
    report = await check(env_for(topic, served, FRESHSALES_FLAVOR="classic"))
    found = rows(report)
    assert found["lifecycle stages"] == (Status.SKIP, "Classic has no lifecycle stages")
    assert found["custom fields"][1].startswith("contacts 5, leads 5, sales_accounts 3, deals 3;")
    assert (report.exit_status, report.freshsales_calls) == (0, MOST_CALLS)


async def test_custom_traits_the_account_lacks_are_listed_from_recent_events(
    topic: KafkaTopic, served: RunningSimulator
) -> None:
    events = [identify(n, cfPlan="Pro", cfShoeSize=42) for n in range(3)]
    events.append(identify(9, company={"name": "Acme", "cfRegion": "EU", "cfStockSymbol": "A"}))
    await produce(topic, events)
    report = await check(env_for(topic, served))
    status, detail = rows(report)["custom traits"]
    assert status is Status.WARN
    assert detail == (
        "in the 4 most recent events, 2 custom traits would be ignored: cfShoeSize 3x"
        " (cf_shoe_size is not a custom field of contacts in Freshsales), company.cfStockSymbol"
        " 1x (cf_stock_symbol is not a custom field of sales_accounts in Freshsales)"
    )
    assert report.exit_status == 0  # a warning


async def test_the_sample_reads_up_to_each_partition_s_end_even_after_an_empty_fetch(
    topic: KafkaTopic, served: RunningSimulator
) -> None:
    # One batch per event, as a live source produces them: the embedded broker answers the
    # sample's first fetch empty, and the check used to stop there ("holds no events").
    producer = topic.producer()
    await producer.start()
    try:
        for n in range(18):
            await producer.send_and_wait(topic.name, identify(n, cfShoeSize=n))
    finally:
        await producer.stop()
    assert rows(await check(env_for(topic, served)))["custom traits"] == (
        Status.WARN,
        "in the 18 most recent events, 1 custom trait would be ignored: cfShoeSize 18x"
        " (cf_shoe_size is not a custom field of contacts in Freshsales)",
    )


async def test_a_base_url_without_the_api_path_is_named_not_the_key(
    served: RunningSimulator, tmp_path: Path
) -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}",
        "FRESHSALES_BASE_URL": served.url,  # the simulator's root, not its API
        "FRESHSALES_API_KEY": API_KEY,
    }
    report = await run_checks(env, timeout_s=TIMEOUT_S, sample=0, write_catalog=tmp_path)
    found = rows(report)
    status, detail = found["freshsales key"]
    assert status is Status.FAIL
    assert detail.startswith(
        f"no Freshsales API at {served.url} (GET selector/owners: answered 404"
    )
    assert detail.endswith(
        ": FRESHSALES_BASE_URL must end in /crm/sales/api (Suite) or /api (Classic)"
    )
    assert found["field catalog"] == (Status.SKIP, "not written: no field list was read")


async def test_a_catalog_that_cannot_be_written_fails_its_row(
    served: RunningSimulator, tmp_path: Path
) -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}",
        "FRESHSALES_BASE_URL": served.base_url(),
        "FRESHSALES_API_KEY": API_KEY,
    }
    report = await run_checks(env, timeout_s=TIMEOUT_S, sample=0, write_catalog=tmp_path)
    status, detail = rows(report)["field catalog"]
    assert (status, detail) == (Status.FAIL, f"cannot write {tmp_path}: Is a directory")
    assert report.exit_status == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_unreachable_broker_fails_at_once_and_freshsales_is_still_checked(
    topic: KafkaTopic, served: RunningSimulator
) -> None:
    servers = f"127.0.0.1:{closed_port()}"
    report = await check(env_for(topic, served, KAFKA_BOOTSTRAP_SERVERS=servers))
    found = rows(report)
    assert found["kafka"][0] is Status.FAIL
    assert found["kafka"][1].startswith(f"cannot reach {servers}: ")
    assert found["source topic"] == (Status.SKIP, "not checked: Kafka is unreachable")
    assert found["freshsales key"][0] is found["custom fields"][0] is Status.OK
    assert report.elapsed_s < TIMEOUT_S


async def test_a_broker_that_never_answers_fails_within_the_timeout(
    topic: KafkaTopic, served: RunningSimulator
) -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept and say nothing, as a half-dead broker or a firewall does

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    started = time.monotonic()
    try:
        env = env_for(topic, served, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}")
        report = await check(env, timeout_s=1.0)
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert rows(report)["kafka"] == (
        Status.FAIL,
        f"no answer from 127.0.0.1:{port} within 1 s",
    )
    assert time.monotonic() - started < 3.0


async def test_a_missing_source_topic_fails_and_is_not_created_by_the_check(
    topic: KafkaTopic, served: RunningSimulator
) -> None:
    env = env_for(topic, served, KAFKA_TOPIC="no-such-topic", KAFKA_DLQ_TOPIC=f"{topic.name}.dlq")
    report = await check(env)
    found = rows(report)
    assert found["source topic"] == (Status.FAIL, "'no-such-topic' does not exist (KAFKA_TOPIC)")
    assert found["dead-letter topic"][0] is Status.OK
    assert found["custom traits"] == (
        Status.SKIP,
        "not checked: the source topic is not available",
    )
    assert report.exit_status == 1
    assert "no-such-topic" not in await topic_names(topic.bootstrap_servers)


async def test_a_missing_dead_letter_topic_warns_that_the_service_creates_it(
    kafka_topic: KafkaTopic, served: RunningSimulator
) -> None:
    found = rows(await check(env_for(kafka_topic, served)))
    assert found["dead-letter topic"] == (
        Status.WARN,
        f"'{kafka_topic.name}.dlq' does not exist; the service creates it at start, which needs"
        " the CreateTopics permission — without it the service refuses to start. Create it to"
        " choose its partitions and retention (KAFKA_DLQ_TOPIC)",
    )
    assert f"{kafka_topic.name}.dlq" not in await topic_names(kafka_topic.bootstrap_servers)


def test_an_existing_dead_letter_topic_is_ok_with_its_partitions() -> None:
    assert dlq_result("t.dlq", {"partitions": [{}, {}]}) == Result(
        "dead-letter topic", Status.OK, "'t.dlq': 2 partition(s)"
    )


async def test_a_configuration_error_is_a_failed_row_naming_the_variable() -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "FRESHSALES_FLAVOR": "enterprise"}
    report = await check(env)
    assert report.results[0] == Result(
        "configuration",
        Status.FAIL,
        "FRESHSALES_API_KEY is required (API key (secret));"
        " FRESHSALES_FLAVOR: expected one of suite, classic, got 'enterprise';"
        " FRESHSALES_DOMAIN is required (or FRESHSALES_BASE_URL)",
    )
    assert {r.status for r in report.results[1:]} == {Status.SKIP}
    assert (report.exit_status, report.freshsales_calls) == (1, 0)
    status, out, err = await run_cli(env=env)
    assert status == 1
    assert "FRESHSALES_FLAVOR: expected one of suite, classic" in out
    assert "Traceback" not in err


async def test_bad_usage_exits_2() -> None:
    for args in (["--timeout", "0"], ["--sample", "many"], ["--verbose"]):
        status, _, err = await run_cli(*args, env={})
        assert status == 2, args
        assert "usage:" in err


def test_custom_fields_of_an_unknown_type_or_unreachable_name_are_listed() -> None:
    answers = {
        Module.CONTACTS: {
            "fields": [
                {"name": "first_name", "type": "text"},
                {"name": "cf_plan", "type": "dropdown"},
                {"name": "cf_scores", "type": "multi_select_dropdown"},
                {"name": "cf_Region", "type": "text"},
            ]
        }
    }
    catalog = FieldCatalog.from_json({m.value: a for m, a in answers.items()})
    failed = {Module.DEALS: TransientError("answered 500", status=500, endpoint=DEALS_FIELDS)}
    result = custom_fields(answers, catalog, failed)
    assert result == Result(
        "custom fields",
        Status.WARN,
        "contacts 3; unreadable for now, the service retries it and delivers nothing until it"
        " is read: GET settings/deals/fields: answered 500; type unknown to the field catalog,"
        " sent uncoerced: contacts.cf_scores ('multi_select_dropdown'); no trait can reach (not"
        " lower-case snake_case): contacts.cf_Region",
    )


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (
            RejectedError("answered 404", status=404, endpoint=DEALS_FIELDS),
            Status.WARN,
            "deals 3; refused for good, the service runs without it (custom traits of deals go"
            " unchecked: Freshsales refuses a request naming one the account lacks (a rejected"
            " dead letter)): GET settings/deals/fields: answered 404",
        ),
        (
            AccessDenied("the API key lacks permission (403)", status=403, endpoint=DEALS_FIELDS),
            Status.FAIL,
            "deals 3; refused, the service stops delivering until the key may read it:"
            " GET settings/deals/fields: the API key lacks permission (403)",
        ),
    ],
)
def test_an_unread_catalog_is_judged_as_the_service_acts_on_it(
    error: FreshsalesError, status: Status, detail: str
) -> None:
    fields = {"fields": [{"name": f"cf_{n}", "type": "text"} for n in "abc"]}
    answers = {Module.DEALS: fields}
    catalog = FieldCatalog.from_json({"deals": fields})
    assert custom_fields(answers, catalog, {Module.DEALS: error}) == Result(
        "custom fields", status, detail
    )


def test_a_catalog_that_cannot_be_built_leaves_custom_traits_unchecked() -> None:
    result = custom_fields({}, None, {}, ["deals: every field needs a string 'name'"])
    assert result == Result(
        "custom fields",
        Status.WARN,
        "none; no field catalog, custom traits go unchecked: deals: every field needs a string"
        " 'name'",
    )


def test_industry_types_refused_unreadable_or_absent_are_judged_as_at_start_up() -> None:
    endpoint = "GET selector/industry_types"
    refused = industry_types(None, RejectedError("answered 404", status=404, endpoint=endpoint))
    down = industry_types(None, TransientError("answered 502", status=502, endpoint=endpoint))
    none = industry_types({"industry_types": []}, None)
    assert (refused.status, down.status, none.status) == (Status.WARN,) * 3
    assert refused.detail == (
        "refused for good, the service runs without it (an account's industry is not sent):"
        " GET selector/industry_types: answered 404"
    )
    assert down.detail == (
        "unreadable for now, the service retries it and delivers nothing until it is read:"
        " GET selector/industry_types: answered 502"
    )
    assert none.detail == "the account has none: every industry trait is dropped"


def test_the_table_aligns_columns_and_the_verdict_ignores_skips() -> None:
    report = Report(
        (
            Result("kafka", Status.OK, "up"),
            Result("dead-letter topic", Status.WARN, "will be auto-created"),
            Result("custom traits", Status.SKIP, "not checked: --sample 0"),
        ),
        freshsales_calls=1,
        elapsed_s=1.0,
    )
    assert (report.verdict, report.exit_status) == (Status.WARN, 0)
    assert render_table(report) == (
        "check              status  detail\n"
        "kafka              ok      up\n"
        "dead-letter topic  warn    will be auto-created\n"
        "custom traits      skip    not checked: --sample 0\n"
        "\n"
        "WARN: 1 ok, 1 warn, 0 fail, 1 skip; 1 Freshsales API call (they count against the"
        " account's hourly quota); 1.0 s\n"
    )


def test_a_missing_ledger_topic_warns_and_an_unused_one_is_skipped() -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": "k:9092", "FRESHSALES_API_KEY": "k", "FRESHSALES_DOMAIN": "a"}
    missing = ledger_result(Settings.from_env(env), None)
    assert missing.status is Status.WARN
    assert "'freshsales-destination.delivered' does not exist" in missing.detail
    off = ledger_result(Settings.from_env({**env, "DEDUPE_WINDOW_SECONDS": "0"}), None)
    assert off.status is Status.SKIP
    found = ledger_result(Settings.from_env(env), {"partitions": [{"partition": 0}]})
    assert (found.status, found.detail) == (
        Status.OK,
        "'freshsales-destination.delivered': 1 partition(s)",
    )


def test_one_figure_for_the_calls_a_check_spends_in_its_help_the_readme_and_the_docs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from consumer.commands.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["check", "--help"])
    root = Path(__file__).parent.parent

    def flat(text: str) -> str:
        return " ".join(text.split())

    assert f"at most {MOST_CALLS} per run" in flat(capsys.readouterr().out)
    assert f"spends {MOST_CALLS} Freshsales calls" in flat((root / "README.md").read_text())
    operations = flat((root / "docs" / "operations.md").read_text())
    assert f"**Freshsales calls: {MOST_CALLS}**" in operations
    assert f"; {MOST_CALLS} Freshsales API calls (they count" in operations
