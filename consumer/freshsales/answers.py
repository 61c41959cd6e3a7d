"""What an HTTP answer from Freshsales means, as a pure decision: success, or which error.

The client only exchanges bytes and hands back a :class:`Reply`; here it is judged, so the rules
can be read and tested without a server: status class → exception class (hence retry,
dead-letter or stop), Retry-After in both of its forms, the quota headers, and the error messages
out of Freshsales' ``{"errors": {"code": …, "message": […]}}`` envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final, Protocol

import orjson

from consumer.errors import (
    AccessDenied,
    FreshsalesError,
    Misdirected,
    RateLimited,
    RejectedError,
    TransientError,
)

EXCERPT_CHARS: Final = 500
MAX_ANSWER_BYTES: Final = 8 * 1024 * 1024
# Conflicts and "too early" are about timing, not about the request: a later try can succeed.
_TIMING_4XX: Final = frozenset({408, 409, 425})


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful call: the status (200 or 201, …) and the decoded JSON object."""

    status: int
    body: Mapping[str, object]


class Caller(Protocol):
    """Whatever sends one request and returns its answer: the client, or the quota stage."""

    async def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None
    ) -> Answer: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back for one request, before it is judged."""

    endpoint: str
    """``METHOD path``, for errors and logs."""
    status: int | None
    """None: no answer at all. With ``failure``, the answer broke off after its status."""
    body: bytes | None = b""
    """None when the answer was larger than MAX_ANSWER_BYTES."""
    retry_after: str | None = None
    location: str | None = None
    remaining: int | None = None
    """``X-RateLimit-Remaining``, when sent (see ``quota_headers``)."""
    total: int | None = None
    failure: str | None = None


def settle(reply: Reply, now: datetime) -> Answer:
    """The answer of a 2xx; raises the FreshsalesError that says what to do about anything else."""
    endpoint, status, body = reply.endpoint, reply.status, reply.body
    if reply.failure is not None or status is None:
        raise TransientError(reply.failure or "no answer", endpoint=endpoint)
    if body is None:
        raise TransientError(
            f"answer larger than {MAX_ANSWER_BYTES} bytes", status=status, endpoint=endpoint
        )
    error = error_for(
        status,
        body,
        endpoint=endpoint,
        retry_after=reply.retry_after,
        location=reply.location,
        now=now,
    )
    if error is not None:
        raise error
    return Answer(status, decode_object(body, status, endpoint))


def decode_object(raw: bytes, status: int, endpoint: str) -> Mapping[str, object]:
    if not raw.strip():
        return {}
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        # A 2xx we cannot read may still have been applied; upserts make retrying safe.
        raise TransientError(
            f"answered {status} with a body that is not a JSON object",
            status=status,
            endpoint=endpoint,
        )
    return document


def error_for(
    status: int,
    body: bytes,
    *,
    endpoint: str,
    retry_after: str | None = None,
    location: str | None = None,
    now: datetime,
) -> FreshsalesError | None:
    """None for 2xx; otherwise the exception that says what to do about this answer."""
    if 200 <= status < 300:
        return None
    messages = error_messages(body)
    if status == 429:
        return RateLimited(
            "rate limited (429)",
            retry_after=retry_after_seconds(retry_after, now),
            messages=messages,
            endpoint=endpoint,
        )
    if status in (401, 403):
        what = "the API key was refused" if status == 401 else "the API key lacks permission"
        return AccessDenied(
            f"{what} ({status})", status=status, messages=messages, endpoint=endpoint
        )
    kind: type[FreshsalesError]
    if status >= 500 or status in _TIMING_4XX:
        kind = TransientError
    elif 400 <= status < 500:
        kind = RejectedError
    else:
        where = f" to {location}" if location else ""
        return Misdirected(
            f"answered {status}{where} instead of the API; check FRESHSALES_DOMAIN and"
            " FRESHSALES_BASE_URL",
            status=status,
            endpoint=endpoint,
        )
    return kind(f"answered {status}", status=status, messages=messages, endpoint=endpoint)


def error_messages(body: bytes) -> tuple[str, ...]:
    """Freshsales' messages from the errors envelope, else an excerpt of whatever came back."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    found = _envelope_messages(document)
    if found:
        return found
    text = body.decode("utf-8", "replace").strip()
    return (excerpt(text),) if text else ()


def _envelope_messages(document: object) -> tuple[str, ...]:
    errors = document.get("errors") if isinstance(document, dict) else None
    if isinstance(errors, dict):
        errors = errors.get("message")
    if isinstance(errors, str):
        errors = [errors]
    if not isinstance(errors, list):
        return ()
    return tuple(excerpt(str(m)) for m in errors[:20])


def excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def quota_headers(headers: Mapping[str, str]) -> tuple[int | None, int | None]:
    """``X-RateLimit-Remaining`` and ``X-RateLimit-Total`` when present and sane (Freshsales does
    not document them; Freshworks' other APIs send them)."""
    return _count(headers.get("X-RateLimit-Remaining")), _count(headers.get("X-RateLimit-Total"))


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from ``now``: delta-seconds or an HTTP date; None when unusable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        # nan/inf and negatives are not a wait the server could have meant.
        return seconds if 0 <= seconds < float("inf") else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # asctime form: HTTP dates are always GMT (RFC 9110 §5.6.7)
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())
