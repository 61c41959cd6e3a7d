"""What the probes answer: /healthz while the fetch loop turns, /readyz while worth traffic."""

from __future__ import annotations

import pytest

from consumer.ops.health import STALLED_AFTER_S, liveness, readiness


@pytest.mark.parametrize(
    ("stalled", "stopping", "answer"),
    [
        (None, False, (True, "starting")),
        (0.1, False, (True, "ok")),
        (STALLED_AFTER_S + 1, False, (False, "the fetch loop has not run for 61s")),
        (STALLED_AFTER_S + 1, True, (True, "ok")),  # a shutdown's drain is not a stall
    ],
)
def test_liveness_fails_only_when_the_fetch_loop_stopped_turning(
    stalled: float | None, stopping: bool, answer: tuple[bool, str]
) -> None:
    assert liveness(stalled, stopping=stopping) == answer


READY = {
    "stopping": False,
    "refusal": None,
    "key_accepted": True,
    "waiting": None,
    "assigned": True,
    "circuit_open": False,
    "identities_read": True,
}


@pytest.mark.parametrize(
    ("change", "answer"),
    [
        ({}, (True, "ok")),
        ({"stopping": True, "refusal": "x"}, (False, "stopping")),
        (
            {"refusal": "the API key was refused (401)"},
            (False, "stopped: the API key was refused (401)"),
        ),
        ({"key_accepted": False}, (False, "the Freshsales account has not been read yet")),
        (
            {"assigned": False, "kafka_unreachable": "127.0.0.1:9: no answer"},
            (False, "the Kafka broker is unreachable: 127.0.0.1:9: no answer"),
        ),
        (
            {"identities_read": False, "assigned": False},
            (False, "reading the identity map (who people are) from Kafka"),
        ),
        (
            {"key_accepted": False, "waiting": "GET selector/owners: answered 500 (try 2)"},
            (
                False,
                "the Freshsales account has not been read yet:"
                " GET selector/owners: answered 500 (try 2)",
            ),
        ),
        ({"assigned": False}, (False, "no partitions assigned")),
        ({"circuit_open": True}, (False, "circuit open: most recent Freshsales calls failed")),
    ],
)
def test_readiness_names_the_first_reason_not_to_send_traffic(
    change: dict[str, object], answer: tuple[bool, str]
) -> None:
    assert readiness(**{**READY, **change}) == answer  # type: ignore[arg-type]
