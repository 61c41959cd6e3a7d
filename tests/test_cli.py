"""The command line: the dry run (`translate`) and the demo, run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SEED_IDENTIFY = (
    '{"userId": "97980cfea0067", "traits": {"firstName": "John", "lastName": "Doe",'
    ' "email": "john.doe@example.com", "cfAlternateNumber": "98765432",'
    ' "company": {"name": "Example.com"}}}'
)


def cli(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consumer", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_the_seed_identify_becomes_an_account_upsert_then_an_email_keyed_upsert() -> None:
    done = cli("translate", stdin=SEED_IDENTIFY + "\n")
    assert done.returncode == 0, done.stderr
    (result,) = lines(done.stdout)
    account, person, link = result["requests"]
    assert (account["method"], account["path"]) == ("POST", "sales_accounts/upsert")
    assert account["body"]["unique_identifier"] == {"name": "Example.com"}
    assert person["path"] == "contacts/upsert?include=sales_accounts"
    assert person["body"]["unique_identifier"] == {"emails": "john.doe@example.com"}
    contact = person["body"]["contact"]
    assert (contact["first_name"], contact["last_name"]) == ("John", "Doe")
    assert contact["custom_field"] == {"cf_alternate_number": "98765432"}
    assert "sales_accounts" not in contact  # it would replace the person's other accounts
    assert (link["method"], link["path"]) == ("PUT", "contacts/{person.id}?include=sales_accounts")
    merged = ["merge:person.sales_accounts+account.id:primary"]
    assert link["inject"] == [{"into": "contact.sales_accounts", "from": merged}]
    assert result["type_inferred"] is True
    assert "1 event: 1 deliver; at most 3 Freshsales calls" in done.stderr


def test_a_deletion_request_in_the_dry_run_names_its_identities_and_says_its_calls_are_extra() -> (
    None
):
    done = cli("translate", stdin='{"type":"delete","userId":"4711","messageId":"d-1"}\n')
    assert done.returncode == 0, done.stderr
    (result,) = lines(done.stdout)
    assert result["outcome"] == "forget"
    assert result["identities"] == {"userId": "4711"}
    assert "1 forget; at most 0 Freshsales calls besides the deletion requests'" in done.stderr


def test_classic_flavour_sends_one_lead_upsert_with_the_company_nested() -> None:
    done = cli("translate", "--flavor", "classic", stdin=SEED_IDENTIFY)
    (result,) = lines(done.stdout)
    (lead,) = result["requests"]
    assert lead["path"] == "leads/upsert"
    assert lead["body"]["lead"]["company"] == {"name": "Example.com"}


def test_each_line_gets_its_answer_and_a_rejected_event_sets_exit_status_1(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"type": "identify", "userId": "u", "traits": {"email": "a@b.co"}}\n'
        "\n"
        "not json\n"
        '{"type": "alias", "userId": "u"}\n'
        '{"type": "frobnicate", "userId": "u"}\n'
    )
    done = cli("translate", str(events))
    assert done.returncode == 1
    results = lines(done.stdout)
    assert [(r["line"], r["outcome"]) for r in results] == [
        (1, "deliver"),
        (3, "error"),
        (4, "error"),
        (5, "unsupported"),
    ]
    assert results[1]["reason"] == "invalid_event"
    assert results[2]["detail"] == "alias needs previousId"
    assert "errors by reason: invalid_event=2" in done.stderr


def test_without_inference_a_typeless_event_is_rejected_as_the_service_would() -> None:
    done = cli("translate", "--no-infer-type", stdin=SEED_IDENTIFY)
    assert done.returncode == 1
    assert lines(done.stdout)[0]["reason"] == "invalid_event"


def test_options_reach_the_translation() -> None:
    event = '{"type": "track", "userId": "u", "event": "Order Completed"}\n'
    page = '{"type": "page", "userId": "u", "name": "Home"}\n'
    done = cli(
        "translate",
        "--stage-map",
        "Order Completed=Customer",
        "--track-activity-type",
        "Product Event",
        "--fallback-time",
        "2026-11-02T10:00:00",
        "--no-pages",
        stdin=event + page,
    )
    assert done.returncode == 0, done.stderr
    track, skipped = lines(done.stdout)
    activity, lifecycle = track["requests"]
    assert activity["body"]["sales_activity"]["start_date"] == "2026-11-02T10:00:00+00:00"
    assert activity["inject"][0]["from"] == ["lookup:sales_activity_type:Product Event"]
    assert lifecycle["inject"][0]["from"] == ["lookup:lifecycle_stage:Customer"]
    assert skipped["outcome"] == "filtered"  # --no-pages is PAGE_EVENTS=drop: page excluded


def test_the_event_filters_and_the_group_and_screen_options_reach_the_translation() -> None:
    events = [
        {"type": "track", "userId": "u", "event": "Order Completed"},
        {"type": "track", "userId": "u", "event": "Email Bounced"},
        {"type": "page", "userId": "u", "name": "Admin Console"},
        {"type": "screen", "userId": "u", "name": "Home"},
        {
            "type": "group",
            "userId": "u",
            "groupId": "g-1",
            "traits": {"name": "Globex", "industry": "Mining"},
        },
    ]
    done = cli(
        "translate",
        "--include",
        "identify,group,screen,page,track:Email *",
        "--exclude",
        "page:Admin*",
        "--screen-activity-type",
        "Screen View",
        "--group-id-field",
        "cf_group_id",
        "--industry-type",
        "Software",
        "--fallback-time",
        "2026-11-02T10:00:00",
        stdin="".join(json.dumps(e) + "\n" for e in events),
    )
    assert done.returncode == 0, done.stderr
    order, email, admin, screen, group = lines(done.stdout)
    outcomes = [order["outcome"], email["outcome"], admin["outcome"]]
    assert outcomes == ["filtered", "deliver", "filtered"]
    (activity,) = screen["requests"]
    assert activity["inject"][0]["from"] == ["lookup:sales_activity_type:Screen View"]
    _, account, _ = group["requests"]
    fields = account["body"]["sales_account"]
    assert fields == {"name": "Globex", "custom_field": {"cf_group_id": "g-1"}}
    assert group["notices"][0]["code"] == "unknown_industry"
    assert "2 filtered" in done.stderr


def test_a_catalog_file_enables_custom_field_checks(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"contacts": {"fields": [{"name": "cf_other", "type": "text"}]}}))
    done = cli("translate", "--catalog", str(catalog), stdin=SEED_IDENTIFY)
    (result,) = lines(done.stdout)
    assert result["ignored"] == ["cfAlternateNumber"]
    assert result["notices"][0]["code"] == "unknown_custom_field"


def test_unreadable_inputs_are_usage_errors(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.json"
    bad.write_text('{"contact": []}')
    done = cli("translate", "--catalog", str(bad), stdin=SEED_IDENTIFY)
    assert done.returncode == 2
    assert "unknown module 'contact'" in done.stderr
    assert cli("translate", str(tmp_path / "missing.jsonl")).returncode == 2
    done = cli("translate", "--stage-map", "no-equals-sign")
    assert done.returncode == 2
    assert "expected EVENT=STAGE" in done.stderr
    done = cli("translate", "--exclude", "pages:Admin*")
    assert done.returncode == 2
    assert "--exclude: 'pages:Admin*': unknown type 'pages'" in done.stderr
    done = cli("translate", "--group-id-field", "group_id")
    assert done.returncode == 2
    assert "--group-id-field: expected a custom field's internal name" in done.stderr
    assert cli("translate", "--fallback-time", "tomorrow").returncode == 2


@pytest.mark.integration  # the demo starts a broker of its own
def test_demo_delivers_the_samples_through_broker_and_simulator() -> None:
    done = cli("demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "broker:" in out
    assert "/crm/sales/api (Freshsales Suite" in out
    final = re.search(r"progress: +334/334 finished \(([^)]*)\)", out)
    assert final is not None, out
    counts = {name: int(n) for n, name in re.findall(r"(\d+) ([a-z-]+)", final.group(1))}
    # Whether a user's two identifies meet in the queue (and merge), whether activities wait
    # for the quota's pace long enough to fold into digests, and whether a visitor's anonymous
    # page views are read before or after their sign-up (they wait, or go straight), depends on
    # timing.
    merged = counts.get("coalesced", 0) + counts.get("folded", 0)
    assert counts["delivered"] + merged + counts.get("waiting", 0) == 332
    assert (counts["dead-lettered"], counts["skipped"]) == (2, 0)
    assert "dead letter: invalid_email 1   (intended: a sample invalid on purpose)" in out
    assert "dead letter: missing_group_name 1   (intended: a sample invalid on purpose)" in out
    assert "429 answers         0" in out
    # While the group joins, one line says so; no "0/333" lines without a word of why.
    assert out.index("  starting:   ") < out.index("  progress:   ")
    assert re.search(r"time per event  longest \d+\.\ds, average \d+\.\ds", out)
    assert "summed over" not in out
    assert re.search(r"title  6 events: ", out)  # the session's digest, not the main run's
    # A generated visitor's anonymous page views, on the lead they became.
    assert re.search(r"title  Before sign-up: 2 events: ", out)
    assert re.search(r"messageId: gen-\d+-0-page-1\n", out)
    # John, identified under one userId and grouped under another, keeps both accounts.
    assert (
        "John Doe <john.doe@example.com>, custom fields {'cf_alternate_number': '98765432'},"
        " accounts Example.com (primary), Grouped" in out
    )
    assert "deals               1" in out


def test_help_lists_only_the_commands_that_exist() -> None:
    done = cli("--help")
    assert done.returncode == 0
    assert "translate" in done.stdout
    assert "demo" in done.stdout
    assert "simulate" in done.stdout
    assert "broker" in done.stdout
    assert "produce" in done.stdout
    assert "run" in done.stdout
    assert "check" in done.stdout
    assert "dlq" in done.stdout


def test_simulate_help_lists_its_options() -> None:
    done = cli("simulate", "--help")
    assert done.returncode == 0
    for option in (
        "--host",
        "--port",
        "--api-key",
        "--per-minute",
        "--per-hour",
        "--fail-rate",
        "--drop-rate",
        "--latency-ms",
        "--flavor",
        "--seed",
        "--create-status",
        "--ignore-unknown-fields",
    ):
        assert option in done.stdout


def test_simulate_refuses_impossible_settings_with_usage_errors() -> None:
    for args, message in [
        (("--fail-rate", "1.5"), "--fail-rate: must be within 0..1, got 1.5"),
        (("--drop-rate", "x"), "--drop-rate: not a number: 'x'"),
        (("--per-minute", "-1"), "--per-minute: must be >= 0, got -1"),
        (("--port", "70000"), "--port: not a TCP port: 70000"),
        (("--latency-ms", "-5"), "--latency-ms: must be >= 0, got -5"),
        (("--fail-rate", "0.6", "--drop-rate", "0.5"), "--fail-rate plus --drop-rate must not"),
    ]:
        done = cli("simulate", *args)
        assert done.returncode == 2, args
        assert message in done.stderr, done.stderr


def test_simulate_serves_until_sigterm_and_exits_0() -> None:
    import signal
    import urllib.request

    server = subprocess.Popen(
        [sys.executable, "-m", "consumer", "simulate", "--port", "0", "--api-key", "k-1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = [server.stdout.readline() for _ in range(4)]
        base = next(line.split(": ", 1)[1].strip() for line in banner if "suite base URL" in line)
        assert any("API key: k-1" in line for line in banner)
        request = urllib.request.Request(
            base + "/selector/owners", headers={"Authorization": "Token token=k-1"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
            assert "owners" in json.loads(answer.read())
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        for stream in (server.stdout, server.stderr):
            if stream is not None:
                stream.close()


def test_the_readme_documents_exactly_the_dry_run_options() -> None:
    import re

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    documented = set(re.findall(r"^\| `(--[a-z-]+)", readme, flags=re.MULTILINE))
    documented |= set(re.findall(r"^\| `--[a-z-]+`, `(--[a-z-]+)`", readme, flags=re.MULTILINE))
    offered = set(re.findall(r"(--[a-z][a-z-]+)", cli("translate", "--help").stdout)) - {"--help"}
    assert documented == offered


def test_run_names_every_configuration_problem_and_connects_nowhere() -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "FRESHSALES_DOMAIN": "acme.evil.example",
        "FRESHSALES_API_KEY": "secret-key-value",
        "MAX_IN_FLIGHT": "0",
    }
    done = cli("run", env=env)
    assert done.returncode == 2
    assert "KAFKA_BOOTSTRAP_SERVERS is required" in done.stderr
    assert "MAX_IN_FLIGHT: must be between 1 and 1024, got 0" in done.stderr
    # A check across settings, in the same round.
    assert "FRESHSALES_DOMAIN 'acme.evil.example' is not a Freshsales host" in done.stderr
    assert "secret-key-value" not in done.stderr + done.stdout


def test_every_help_text_says_track_page_and_screen_where_it_says_track_and_page() -> None:
    import argparse

    from consumer.commands.cli import build_parser
    from consumer.settings import Settings

    parser = build_parser()
    texts = [parser.format_help()]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            texts += [command.format_help() for command in action.choices.values()]
    texts += [spec.help for spec in Settings.specs()]
    halves = [text for text in texts if re.search(r"track/page(?!/screen)", text)]
    assert not halves, "screen events are treated as track/page are: say so"


def test_broker_on_a_port_in_use_says_so_and_produce_needs_a_kafka() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = cli("broker", "--port", str(port))
    assert done.returncode == 1
    assert f"127.0.0.1:{port} is in use; --port 0 takes a free port" in done.stderr
    done = cli("produce", stdin="{}\n", env={"PATH": os.environ.get("PATH", "")})
    assert done.returncode == 2
    assert "no Kafka: set KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers" in done.stderr
