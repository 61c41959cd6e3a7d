"""Log lines: JSON by default, secrets never shown, emails hashed when asked."""

from __future__ import annotations

import hashlib
import io
import logging

import orjson

from consumer.logs import configure, email_digest, get_logger

KEY = "sk-live-0123456789"


def lines(**options: object) -> list[dict[str, object]]:
    out = io.StringIO()
    configure("debug", "json", out, secrets=[KEY], **options)  # type: ignore[arg-type]
    log = get_logger("test")
    log.debug("delivered", error=f"refused Token token={KEY}", detail="ada@example.com failed")
    log.info("call", authorization=f"Token token={KEY}", headers={"X": "1"})
    configure()  # leave the default configuration to later tests
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def test_one_json_object_per_line_with_level_and_time() -> None:
    first, _ = lines()
    assert (first["event"], first["level"]) == ("delivered", "debug")
    assert "timestamp" in first


def test_the_key_is_scrubbed_from_values_and_secret_fields_are_redacted() -> None:
    first, second = lines()
    assert first["error"] == "refused Token token=[redacted]"
    assert second["authorization"] == second["headers"] == "[redacted]"
    assert KEY not in str(first) + str(second)


def test_emails_stay_readable_by_default_and_are_hashed_on_request() -> None:
    assert lines()[0]["detail"] == "ada@example.com failed"
    hashed = lines(hash_emails=True)[0]["detail"]
    digest = hashlib.sha256(b"ada@example.com").hexdigest()[:12]
    assert hashed == f"email:{digest} failed"
    assert email_digest("Ada@Example.com") == hashed.split()[0]  # case does not matter


def test_library_logging_comes_out_as_the_same_json_scrubbed() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure("info", "json", out, secrets=[KEY], libraries=True)
        logging.getLogger("aiokafka.conn").error("Unable to connect with token=%s", KEY)
    finally:
        root.handlers, _ = saved
        root.setLevel(saved[1])
        configure()
    (line,) = [orjson.loads(x) for x in out.getvalue().splitlines()]
    assert line["logger"] == "aiokafka.conn"
    assert line["level"] == "error"
    assert line["event"] == "Unable to connect with token=[redacted]"
