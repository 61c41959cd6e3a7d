"""The Freshsales client: the only module that speaks HTTP.

One aiohttp session per process with a bounded connection pool and timeouts. ``send`` exchanges
one request for a :class:`~consumer.freshsales.answers.Reply` and never raises for an answer;
``call`` also judges it (``answers.settle``): the decoded answer of a 2xx, or one of the project's
own errors. No aiohttp exception escapes this module. Redirects are never followed: the API key
must not travel to another host. Pacing is not done here: the quota stage
(``consumer.freshsales.paced``) sits in front of this client.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Self

import aiohttp
import orjson

from consumer import __version__
from consumer.errors import ConfigurationError, RejectedError
from consumer.freshsales.answers import MAX_ANSWER_BYTES, Answer, Reply, quota_headers, settle

USER_AGENT: Final = f"freshsales-destination/{__version__} (+Segment events from Kafka)"
# Paths come from translations (ids from earlier answers); anything else must not reach the wire.
# One query form only: ``include=`` of related records (a person's accounts).
_SAFE_PATH: Final = re.compile(r"[a-z_]+(?:/[A-Za-z0-9_]+)*(?:\?include=[a-z_]+(?:,[a-z_]+)*)?\Z")
_KEY_CHARS: Final = re.compile(r"[\x21-\x7e]+\Z")
_ID: Final = re.compile(r"/\d+(?=/|\Z)")


@dataclass(frozen=True, slots=True)
class Prepared:
    method: str
    path: str
    endpoint: str
    data: bytes | None
    params: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ClientOptions:
    pool_size: int = 64
    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    user_agent: str = USER_AGENT


class FreshsalesClient:
    """Calls one Freshsales account. Use as ``async with FreshsalesClient(...) as client``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        options: ClientOptions = ClientOptions(),
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not _KEY_CHARS.match(api_key):
            raise ConfigurationError(
                "FRESHSALES_API_KEY is empty or contains spaces or control characters"
            )
        self._base = base_url.rstrip("/")
        self._key = api_key.encode()
        self._headers = {
            "Authorization": f"Token token={api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": options.user_agent,
        }
        self._options = options
        self.clock = clock
        # aiohttp's pool is not fair: a task that releases a connection and asks again at once
        # gets it back, so a few users would hold every connection. The semaphore queues in order.
        self._slots = asyncio.Semaphore(options.pool_size)
        self.answers: Counter[tuple[str, str]] = Counter()
        """(endpoint with ids as {id}, status or "none") → calls: for the metrics."""
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def open(self) -> None:
        """Create the session; needs a running event loop."""
        if self._session is None:
            opts = self._options
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=opts.pool_size, limit_per_host=opts.pool_size),
                timeout=aiohttp.ClientTimeout(
                    total=opts.timeout_s, sock_connect=opts.connect_timeout_s
                ),
                headers=self._headers,
                raise_for_status=False,
                trust_env=False,
            )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, object] | None = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one request to ``{base}/{path}``; the answer of a 2xx, else a FreshsalesError."""
        reply = await self.exchange(self.prepare(method, path, body, params=params))
        return settle(reply, self.clock())

    def prepare(
        self,
        method: str,
        path: str,
        body: Mapping[str, object] | None = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> Prepared:
        """The request, checked and encoded; raises RejectedError for a path the API does not
        have (it came from an answer) — before anything is sent or counted."""
        endpoint = f"{method} {path}"
        if not _SAFE_PATH.match(path):
            raise RejectedError(f"refusing to call an unexpected path {path!r}", endpoint=endpoint)
        data = None if body is None else orjson.dumps(body)
        return Prepared(method, path, endpoint, data, params)

    async def exchange(self, request: Prepared) -> Reply:
        """Send a prepared request; what came back, answered or not (never raises for it)."""
        if self._session is None:
            raise RuntimeError("FreshsalesClient used before open() or after close()")
        method, endpoint, data, params = (
            request.method,
            request.endpoint,
            request.data,
            request.params,
        )
        status: int | None = None
        reply: Reply | None = None
        try:
            async with (
                self._slots,
                self._session.request(
                    method,
                    f"{self._base}/{request.path}",
                    data=data,
                    params=params,
                    allow_redirects=False,
                ) as response,
            ):
                status = response.status
                remaining, total = quota_headers(response.headers)
                raw = await _read_capped(response.content)
                if raw is not None and not 200 <= status < 300 and self._key in raw:
                    # An error page that echoes the request (a proxy, a debug page) must not
                    # carry the key on into logs, dead-letter headers or ``check`` output.
                    raw = raw.replace(self._key, b"[redacted]")
                reply = Reply(
                    endpoint,
                    status,
                    raw,
                    retry_after=response.headers.get("Retry-After"),
                    location=response.headers.get("Location"),
                    remaining=remaining,
                    total=total,
                )
        except TimeoutError:
            failure = f"no answer within {self._options.timeout_s:g}s"
            reply = Reply(endpoint, status, failure=failure)
        except aiohttp.ClientError as exc:
            reply = Reply(endpoint, status, failure=_describe(exc))
        finally:
            label = _ID.sub("/{id}", endpoint.partition("?")[0])
            self.answers[label, str(status or "none")] += 1
        return reply


async def _read_capped(stream: aiohttp.StreamReader) -> bytes | None:
    """The whole body, or None past MAX_ANSWER_BYTES: a runaway answer must not exhaust memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {exc.os_error}"
    return f"{type(exc).__name__}: {exc}"
