"""Dead-letter headers: the original record kept, why and where it came from added."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError

from consumer.backoff import Backoff
from consumer.engine.source import Record
from consumer.errors import (
    BrokerError,
    BrokerRefused,
    OversizedRecord,
    RejectedError,
    TransientError,
)
from consumer.kafka.deadletters import DeadLetters, Headers, after_refusal, header, letter_headers
from translate import Reason, TranslationError

AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SOURCE = Record(
    topic="segment-events",
    partition=2,
    offset=4711,
    key=b"u1",
    value=b"{}",
    headers=(("trace", b"t-1"), ("nothing", None), ("fsd-reason", b"stale")),
)


def test_a_rejected_call_carries_status_endpoint_and_freshsales_messages() -> None:
    error = RejectedError(
        "answered 400",
        status=400,
        messages=("Name has already been taken",),
        endpoint="POST sales_accounts",
    )
    headers = letter_headers(SOURCE, Reason.REJECTED, error, attempts=1, at=AT)
    assert headers[:2] == [("trace", b"t-1"), ("nothing", None)]
    assert dict(headers[2:]) == {
        "fsd-reason": b"rejected",
        "fsd-error-class": b"RejectedError",
        "fsd-source-topic": b"segment-events",
        "fsd-source-partition": b"2",
        "fsd-source-offset": b"4711",
        "fsd-attempts": b"1",
        "fsd-dead-lettered-at": b"2026-11-29T12:00:00+00:00",
        "fsd-status": b"400",
        "fsd-endpoint": b"POST sales_accounts",
        "fsd-error": b"Name has already been taken",
    }
    assert [k for k, _ in headers].count("fsd-reason") == 1


def test_an_untranslatable_event_says_what_is_wrong_with_it() -> None:
    error = TranslationError(Reason.MISSING_EMAIL, "identify has no email")
    headers = letter_headers(SOURCE, Reason.MISSING_EMAIL, error, attempts=0, at=AT)
    assert header(headers, "reason") == "missing_email"
    assert header(headers, "error") == "identify has no email"
    assert header(headers, "status") is None


def test_retries_exhausted_without_an_answer_has_an_empty_status() -> None:
    error = TransientError("no answer within 30s", endpoint="POST contacts/upsert")
    headers = letter_headers(SOURCE, Reason.RETRIES_EXHAUSTED, error, attempts=40, at=AT)
    assert header(headers, "status") == ""
    assert header(headers, "error") == "no answer within 30s"
    assert header(headers, "attempts") == "40"
    assert header(headers, "nothing") is None


def test_a_replayed_event_that_fails_again_keeps_its_replay_count_only() -> None:
    replayed = Record(
        topic="segment-events",
        partition=0,
        offset=12,
        key=b"u1",
        value=b"{}",
        headers=(("trace", b"t-1"), ("fsd-reason", b"stale"), ("fsd-replay-count", b"2")),
    )
    error = TranslationError(Reason.MISSING_EMAIL, "identify has no email")
    again = letter_headers(replayed, Reason.MISSING_EMAIL, error, attempts=0, at=AT)
    assert header(again, "replay-count") == "2"
    assert header(again, "reason") == "missing_email"
    names = [k for k, _ in again]
    assert names.count("fsd-replay-count") == 1
    assert names.count("fsd-reason") == 1
    first = letter_headers(SOURCE, Reason.MISSING_EMAIL, error, attempts=0, at=AT)
    assert header(first, "replay-count") is None


class Kafka:
    """A producer's send_and_wait that refuses the first ``refusals`` sends, one error each."""

    def __init__(self, *refusals: Exception) -> None:
        self.refusals = list(refusals)
        self.sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes | None]]]] = []

    async def send_and_wait(
        self, topic: str, *, value: bytes | None, key: bytes | None, headers: Headers
    ) -> None:
        if self.refusals:
            raise self.refusals.pop(0)
        self.sent.append((topic, key, value, list(headers)))


@pytest.mark.parametrize(
    ("error", "value", "step"),
    [
        (OversizedRecord("too large"), b"{}", "without_value"),
        (OversizedRecord("too large"), None, "retry"),  # already without: Kafka must take it
        (BrokerError("not the leader"), b"{}", "retry"),
        (BrokerRefused("not authorized"), b"{}", "retry"),  # nothing may be lost: keep trying
    ],
)
def test_after_kafka_refused_a_letter(error: BrokerError, value: bytes | None, step: str) -> None:
    assert after_refusal(error, value) == step


async def test_a_letter_too_large_goes_without_its_value_saying_how_large_it_was() -> None:
    kafka = Kafka(MessageSizeTooLargeError())
    letters = DeadLetters(kafka.send_and_wait, "t.dlq", Backoff(0.0, 0.0))
    error = TranslationError(Reason.INVALID_EVENT, "not JSON")
    await letters.write(SOURCE, Reason.INVALID_EVENT, error, attempts=0)
    [(topic, key, value, headers)] = kafka.sent
    assert (topic, key, value) == ("t.dlq", b"u1", None)
    assert header(headers, "value-dropped") == "2"
    assert header(headers, "source-offset") == "4711"


async def test_a_letter_kafka_cannot_take_now_is_tried_again_until_it_can() -> None:
    kafka = Kafka(KafkaConnectionError(), KafkaTimeoutError())
    letters = DeadLetters(kafka.send_and_wait, "t.dlq", Backoff(0.0, 0.0))
    error = TranslationError(Reason.INVALID_EVENT, "not JSON")
    await letters.write(SOURCE, Reason.INVALID_EVENT, error, attempts=0)
    [(_, _, value, _)] = kafka.sent
    assert value == b"{}"


def test_a_letter_without_an_error_says_only_why_and_where() -> None:
    headers = letter_headers(SOURCE, Reason.REJECTED, None, attempts=1, at=AT)
    assert header(headers, "error-class") == ""
    assert header(headers, "error") is None
    assert header(headers, "source-partition") == "2"
