"""``forget`` as an operator runs it: what it accepts, what it refuses before touching anything,
and what it says when Kafka cannot be reached (the deletions themselves:
tests/test_forget_service.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def forget_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ.get("PATH", ""),
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # nothing listens there
        "FRESHSALES_BASE_URL": "http://127.0.0.1:9",
        "FRESHSALES_API_KEY": "key",
        "KAFKA_REQUEST_TIMEOUT_MS": "2000",
    }
    return subprocess.run(
        [sys.executable, "-m", "consumer", "forget", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=base if env is None else env,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name at least one identity (--user-id, --email, --anonymous-id or --from)"),
        (("--email", "ada-at-acme"), "not an email address: 'ada-at-acme'"),
        (("--user-id", "anonymous"), "userId 'anonymous' names nobody"),
        (("--anonymous-id", " "), "anonymousId ' ' names nobody"),
        (("--from", "/nonexistent/requests.txt"), "--from: cannot read /nonexistent/requests.txt"),
        (("--frobnicate",), "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_usage_exits_2_before_anything_is_done(args: tuple[str, ...], message: str) -> None:
    done = forget_cli(*args)
    assert done.returncode == 2
    assert message in done.stderr, done.stderr
    assert "usage: freshsales-destination" in done.stderr
    assert done.stdout == ""


def test_a_request_file_names_the_line_it_cannot_read(tmp_path: Path) -> None:
    requests = tmp_path / "requests.txt"
    requests.write_text(
        "# from the privacy inbox\n"
        "email=ada@acme.example\n"
        "\n"
        "userId=4711\n"
        "anonymousId=a7e0b1f2\n"
        "bo@acme.example\n"
        "4712\n"
        "phone=+44 20 7946 0000\n"
        "email=not-an-email\n",
        encoding="utf-8",
    )
    done = forget_cli("--from", str(requests))
    assert done.returncode == 2
    assert "--from line 8: 'phone' is not email, userId or anonymousId" in done.stderr


def test_every_line_of_a_request_file_is_read_before_kafka_is_asked(tmp_path: Path) -> None:
    # Seven good lines and a bad email last: refused whole, nothing carried out.
    requests = tmp_path / "requests.txt"
    requests.write_text("userId=4711\nemail=ada@acme.example\nemail=not-an-email\n")
    done = forget_cli("--from", str(requests))
    assert done.returncode == 2
    assert "not an email address: 'not-an-email'" in done.stderr
    assert "Kafka" not in done.stderr


def test_a_configuration_error_names_the_setting() -> None:
    done = forget_cli("--user-id", "4711", env={"PATH": os.environ.get("PATH", "")})
    assert done.returncode == 2
    assert "KAFKA_BOOTSTRAP_SERVERS is required" in done.stderr
    assert done.stdout == ""


def test_an_unreachable_kafka_exits_1_saying_nothing_was_carried_out() -> None:
    done = forget_cli("--email", "ada@acme.example")
    assert done.returncode == 1, done.stderr
    assert "freshsales-destination forget: Kafka: " in done.stderr
    assert "0 of 1 requests carried out" in done.stderr
    assert "ada@acme.example" not in done.stdout + done.stderr


def test_help_says_what_a_request_does_and_how_it_exits() -> None:
    done = forget_cli("--help")
    assert done.returncode == 0
    for words in ("/forget", "90-day recycle bin", "--undo", "Exit status: 0", "email=..."):
        assert words in done.stdout, words
