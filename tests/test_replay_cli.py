"""``dlq replay`` as a user runs it: usage and configuration errors, help, and its settings."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from consumer.errors import ConfigurationError
from consumer.settings import Settings
from sandbox.broker import Broker


def replay_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    return subprocess.run(
        [sys.executable, "-m", "consumer", "dlq", "replay", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=base if env is None else env,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "--since: not an ISO 8601 time: 'yesterday'"),
        (("--until", "2026-13-01"), "--until: not an ISO 8601 time: '2026-13-01'"),
        (("--limit", "0"), "--limit: must be at least 1, got 0"),
        (("--limit", "ten"), "--limit: not a whole number: 'ten'"),
        (("--reason", "rejectd"), "--reason: invalid choice: 'rejectd'"),
        (("--frobnicate",), "unrecognized arguments: --frobnicate"),
        (
            ("--since", "2026-11-30", "--until", "2026-11-29"),
            "--since must be earlier than --until",
        ),
    ],
)
def test_bad_usage_exits_2_with_a_message(args: tuple[str, ...], message: str) -> None:
    done = replay_cli(*args)
    assert done.returncode == 2
    assert message in done.stderr, done.stderr
    assert done.stdout == ""


def test_dlq_needs_an_action() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "consumer", "dlq"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "replay" in done.stderr


def test_a_configuration_error_names_the_setting_and_needs_no_freshsales_key() -> None:
    done = replay_cli(env={"PATH": os.environ.get("PATH", ""), "KAFKA_TOPIC": " "})
    assert done.returncode == 2
    assert "KAFKA_BOOTSTRAP_SERVERS is required" in done.stderr
    assert "FRESHSALES" not in done.stderr


def test_a_dead_letter_topic_that_does_not_exist_is_a_configuration_error(
    kafka_broker: Broker,
) -> None:
    topic = f"absent-{uuid.uuid4().hex[:12]}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        **kafka_broker.service_env(topic, "unused"),
    }
    done = replay_cli("--dry-run", env=env)
    assert done.returncode == 2, done.stderr
    assert f"KAFKA_DLQ_TOPIC: the dead-letter topic '{topic}.dlq' does not exist" in done.stderr


def test_an_unreachable_broker_exits_1_with_the_summary() -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # discard: nothing listens
    }
    done = replay_cli("--json", env=env)
    assert done.returncode == 1
    assert '"summary"' in done.stdout
    assert "Kafka at 127.0.0.1:9" in done.stderr


def test_help_says_what_a_second_run_does_and_how_to_narrow_it() -> None:
    done = replay_cli("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for phrase in (
        "--reason",
        "--since",
        "--until",
        "--limit",
        "--dry-run",
        "--json",
        "second run publishes the same events again",
        "cost API quota again",
        "narrow the next one with --since",
        "without a consumer group",
        "fsd-replay-count",
        "Exit status",
    ):
        assert phrase in text, phrase


def test_the_kafka_only_settings_skip_freshsales_but_check_everything_else() -> None:
    settings = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "k:9092"}, freshsales=False)
    assert settings.dlq_topic == "segment-events.dlq"
    assert settings.freshsales_api_key.get_secret_value() == ""
    with pytest.raises(ConfigurationError, match="FRESHSALES_API_KEY is required"):
        Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "k:9092"})
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(
            {"KAFKA_BOOTSTRAP_SERVERS": "k:9092", "KAFKA_DLQ_TOPIC": "segment-events"},
            freshsales=False,
        )
    assert "KAFKA_DLQ_TOPIC must differ from KAFKA_TOPIC" in str(raised.value)
    kept = Settings.from_env(
        {"KAFKA_BOOTSTRAP_SERVERS": "k:9092", "FRESHSALES_API_KEY": "key-1"}, freshsales=False
    )
    assert kept.freshsales_api_key.get_secret_value() == "key-1"
