"""What each Freshsales answer means: the status classes, Retry-After and the error messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consumer.errors import (
    AccessDenied,
    FreshsalesError,
    Misdirected,
    RateLimited,
    RejectedError,
    TransientError,
)
from consumer.freshsales.answers import (
    EXCERPT_CHARS,
    error_for,
    error_messages,
    quota_headers,
    retry_after_seconds,
)

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
ENVELOPE = b'{"errors":{"code":400,"message":["Name has already been taken","Owner is invalid"]}}'


def classify(status: int, body: bytes = b"", **headers: str) -> FreshsalesError | None:
    return error_for(status, body, endpoint="POST contacts/upsert", now=NOW, **headers)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_success(status: int) -> None:
    assert classify(status) is None


@pytest.mark.parametrize(
    ("status", "kind", "retriable", "fatal"),
    [
        (400, RejectedError, False, False),
        (404, RejectedError, False, False),
        (405, RejectedError, False, False),
        (413, RejectedError, False, False),
        (422, RejectedError, False, False),
        (408, TransientError, True, False),
        (409, TransientError, True, False),
        (425, TransientError, True, False),
        (429, RateLimited, True, False),
        (500, TransientError, True, False),
        (502, TransientError, True, False),
        (503, TransientError, True, False),
        (504, TransientError, True, False),
        (401, AccessDenied, False, True),
        (403, AccessDenied, False, True),
        (301, Misdirected, False, True),
        (302, Misdirected, False, True),
        (101, Misdirected, False, True),
    ],
)
def test_each_status_class_maps_to_one_error_with_its_flags(status, kind, retriable, fatal) -> None:
    error = classify(status, ENVELOPE)
    assert isinstance(error, kind)
    assert type(error) is kind
    assert error.status == status
    assert (error.retriable, error.fatal) == (retriable, fatal)
    assert error.endpoint == "POST contacts/upsert"


def test_a_rejection_carries_freshsales_own_messages() -> None:
    error = classify(400, ENVELOPE)
    assert error is not None
    assert error.messages == ("Name has already been taken", "Owner is invalid")
    assert "Name has already been taken; Owner is invalid" in str(error)


def test_a_redirect_names_where_it_pointed() -> None:
    error = classify(301, b"", location="https://elsewhere.example/")
    assert "to https://elsewhere.example/" in str(error)
    assert "FRESHSALES_DOMAIN" in str(error)


def test_a_429_carries_the_parsed_retry_after() -> None:
    error = classify(429, b"", retry_after="7")
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7.0
    assert isinstance(classify(429), RateLimited)
    assert classify(429).retry_after is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 3 ", 3.0),
        ("1.5", 1.5),
        ("Sun, 29 Nov 2026 12:00:30 GMT", 30.0),
        ("Sunday, 29-Nov-26 12:01:00 GMT", 60.0),
        ("Sun Nov 29 12:00:05 2026", 5.0),  # asctime: GMT by definition
        ("Sun, 29 Nov 2026 11:59:00 GMT", 0.0),  # already past
        ("-5", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value, seconds) -> None:
    assert retry_after_seconds(value, NOW) == seconds


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        (ENVELOPE, ("Name has already been taken", "Owner is invalid")),
        (b'{"errors":{"code":400,"message":"Invalid email"}}', ("Invalid email",)),
        (b'{"errors":"Too many requests"}', ("Too many requests",)),
        (b'{"errors":{"code":500}}', ('{"errors":{"code":500}}',)),
        (b"<html>Bad Gateway</html>", ("<html>Bad Gateway</html>",)),
        (b"\xff\xfe broken", ("\ufffd\ufffd broken",)),
        (b"", ()),
        (b"   ", ()),
    ],
)
def test_messages_come_from_the_errors_envelope_else_an_excerpt(body, messages) -> None:
    assert error_messages(body) == messages


def test_excerpts_are_bounded() -> None:
    (message,) = error_messages(b"x" * 10_000)
    assert len(message) == EXCERPT_CHARS
    many = b'{"errors":{"message":[' + b",".join([b'"m"'] * 100) + b"]}}"
    assert len(error_messages(many)) == 20


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-RateLimit-Remaining": "12", "X-RateLimit-Total": "1000"}, (12, 1000)),
        ({"X-RateLimit-Remaining": " 0 "}, (0, None)),
        ({"X-RateLimit-Remaining": "-3", "X-RateLimit-Total": "lots"}, (None, None)),
        ({"X-RateLimit-Remaining": "\uff11\uff12"}, (None, None)),  # fullwidth digits: no count
        ({"X-RateLimit-Remaining": "9" * 12}, (None, None)),
        ({}, (None, None)),
    ],
)
def test_the_quota_headers_are_read_when_present_and_sane(
    headers: dict[str, str], expected: tuple[int | None, int | None]
) -> None:
    assert quota_headers(headers) == expected
