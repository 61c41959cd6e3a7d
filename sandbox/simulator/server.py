"""The simulated Freshsales HTTP server: routing, auth, quota, faults and the request log.

Every API request passes, in order: latency → auth (401, not charged) → rate limit (429, not
charged; everything after is charged) → injected or random fault → route (404/405) → permission
(403) → body checks (400) → the operation. Control endpoints under ``/_sim`` skip all of that.

The full-rights key starts as ``config.api_key`` but lives in the simulator's state, so a test can
revoke or rotate it while a client runs (``set_api_key``), as an admin would in the real CRM.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

from sandbox.simulator import control
from sandbox.simulator.account import Account
from sandbox.simulator.catalog import modules_of
from sandbox.simulator.config import FLAVORS, PREFIXES, SimulatorConfig
from sandbox.simulator.errors import ApiError, envelope
from sandbox.simulator.faults import Fault, FaultPlan
from sandbox.simulator.handlers import Call
from sandbox.simulator.responses import error_response, json_response
from sandbox.simulator.routes import match

_logger = logging.getLogger(__name__)
_TOKEN = re.compile(r"Token token=(\S+)\Z")


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # the parsed JSON body, None when absent or not JSON
    raw: bytes
    flavor: str | None  # None: no served API base matched
    at: float  # the simulator clock when it arrived
    status: int | None = None  # None while in flight, or when dropped
    dropped: bool = False
    fault: bool = False  # answered by an injected or random fault

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "raw": self.raw.decode("utf-8", "replace"),
            "flavor": self.flavor,
            "at": self.at,
            "status": self.status,
            "dropped": self.dropped,
            "fault": self.fault,
        }


class Simulator:
    """A Freshsales API double: one account per configured flavour, all in memory."""

    def __init__(
        self, config: SimulatorConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config or SimulatorConfig()
        self.clock = clock
        self.requests: list[LoggedRequest] = []
        self.reset()

    @property
    def app(self) -> web.Application:
        """A new aiohttp application over this simulator's state (one per server run)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    def inject(self, fault: Fault, times: int = 1) -> None:
        """The next ``times`` requests that pass auth and the rate limit get ``fault``."""
        self._faults.inject(fault, times)

    @property
    def pending_faults(self) -> int:
        return self._faults.pending

    def clear_faults(self) -> int:
        """Drop every queued fault (ends an injected outage); how many were left. Random faults
        (``fail_rate``, ``drop_rate``) go on."""
        return self._faults.clear()

    @property
    def api_key(self) -> str:
        """The key with every right, as of now."""
        return self._api_key

    def set_api_key(self, key: str) -> None:
        """From the next request on, ``key`` is the full-rights key and the previous one is
        refused (401 "Incorrect or expired API key"): a revoked or rotated key. ``reset()``
        brings back ``config.api_key``."""
        if not _TOKEN.match(f"Token token={key}"):
            raise ValueError("an API key is one or more characters without whitespace")
        if key in self.config.limited_keys:
            raise ValueError(f"{key!r} is a limited key; pick another")
        self._api_key = key

    def state(self, flavor: str = "suite") -> dict[str, list[dict[str, Any]]]:
        """Every record of the account, per module, as the API renders it (accounts included),
        and under ``"recycle_bin"`` the deleted ones: ``{"module", "deleted_at", "record"}``."""
        if flavor not in self._accounts:
            raise ValueError(f"no {flavor!r} account; served: {', '.join(self._accounts)}")
        return self._accounts[flavor].state()

    def account(self, flavor: str = "suite") -> Account:
        return self._accounts[flavor]

    def reset(self) -> None:
        """Records, request log, queued faults, rate windows, RNG, id counters and the API key
        start over."""
        config = self.config
        self._api_key = config.api_key
        self._accounts: dict[str, Account] = {
            f: Account(config, f, self.clock) for f in FLAVORS if f in config.flavors
        }
        self._faults = FaultPlan(config.seed, config.fail_rate, config.drop_rate)
        self.requests.clear()
        self.log_offset = 0  # how many of the oldest entries the log limit has dropped

    def _log(self, entry: LoggedRequest) -> None:
        self.requests.append(entry)
        limit = self.config.log_limit
        if limit and len(self.requests) > limit:
            # Trimmed a tenth at a time, so a full log does not shift the list on every request.
            excess = len(self.requests) - limit + limit // 10
            del self.requests[:excess]
            self.log_offset += excess

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/_sim" or request.path.startswith("/_sim/"):
            return await control.handle(self, request)
        raw = await request.read()
        flavor, rest = self._split(request.path)
        entry = LoggedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={str(k): v for k, v in request.headers.items()},
            body=_loads(raw),
            raw=raw,
            flavor=flavor,
            at=self.clock(),
        )
        self._log(entry)
        headers: dict[str, str] = {}
        try:
            response = await self._serve(request, entry, flavor, rest, raw, headers)
        except ApiError as error:
            response = error_response(error, headers)
        except Exception as error:  # a simulator bug still answers in the envelope, and says so
            _logger.exception("simulator error on %s %s", request.method, request.path)
            response = error_response(ApiError(500, f"Simulator error: {error!r}"), headers)
        entry.status = response.status
        return response

    async def _serve(
        self,
        request: web.Request,
        entry: LoggedRequest,
        flavor: str | None,
        rest: str,
        raw: bytes,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        if flavor is None:
            raise ApiError(404, f"No Freshsales API at {request.path}")
        key = self._authenticate(request.headers.get("Authorization"))
        account = self._accounts[flavor]
        verdict = account.windows.admit(self.clock())
        if self.config.rate_limit_headers and verdict.total is not None:
            headers["X-RateLimit-Total"] = str(verdict.total)
            headers["X-RateLimit-Remaining"] = str(verdict.remaining)
        if verdict.retry_after is not None:
            raise ApiError(
                429,
                f"API rate limit exceeded; retry after {verdict.retry_after} seconds",
                {"Retry-After": str(verdict.retry_after)},
            )
        fault = self._faults.next()
        if fault is not None:
            faulted = await self._fault(request, entry, fault, headers)
            if faulted is not None:
                return faulted
        route = match(rest, modules_of(flavor))
        if route is None:
            raise ApiError(404, f"No such resource: {rest or '/'}")
        handler = route.methods.get(request.method)
        if handler is None:
            allowed = ", ".join(route.methods)
            raise ApiError(405, f"{request.method} not allowed here", {"Allow": allowed})
        forbidden = self.config.limited_keys.get(key, frozenset())
        if route.module in forbidden:
            raise ApiError(403, f"This API key has no access to {route.module}")
        body = _body(request, raw) if request.method in ("POST", "PUT") else {}
        call = Call(account, route.module, route.ident, request.query, body, frozenset(forbidden))
        status, payload = handler(call)
        return json_response(status, payload, headers)

    def _authenticate(self, header: str | None) -> str:
        challenge = {"WWW-Authenticate": 'Token realm="Application"'}
        if header is None:
            raise ApiError(401, "Authorization header missing: Token token=<API key>", challenge)
        found = _TOKEN.match(header)
        if found is None:
            raise ApiError(401, "Authorization must be: Token token=<API key>", challenge)
        if found[1] != self._api_key and found[1] not in self.config.limited_keys:
            raise ApiError(401, "Incorrect or expired API key", challenge)
        return found[1]

    async def _fault(
        self, request: web.Request, entry: LoggedRequest, fault: Fault, headers: dict[str, str]
    ) -> web.StreamResponse | None:
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.drop:
            entry.dropped = entry.fault = True
            if request.transport is not None:
                request.transport.close()
            # aiohttp treats a cancelled handler as a vanished client: no answer, nothing logged.
            raise asyncio.CancelledError
        if fault.status is None and fault.body is None:
            return None  # a pure delay: the request is then served normally
        entry.fault = True
        status = fault.status or 200
        if fault.retry_after is not None:
            headers = {**headers, "Retry-After": fault.retry_after}
        if fault.body is None:
            return json_response(status, envelope(status, [_phrase(status)]), headers)
        content_type = fault.content_type or _guess_type(fault.body)
        return web.Response(
            status=status, body=fault.body, headers={**headers, "Content-Type": content_type}
        )

    def _split(self, path: str) -> tuple[str | None, str]:
        for flavor in self._accounts:
            prefix = PREFIXES[flavor] + "/"
            if path.startswith(prefix):
                return flavor, path[len(prefix) :]
        return None, path


def _body(request: web.Request, raw: bytes) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise ApiError(400, f"Content-Type must be application/json, not {request.content_type}")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return body


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _guess_type(body: bytes) -> str:
    start = body.lstrip()[:1]
    if start == b"<":
        return "text/html; charset=utf-8"
    return "application/json" if start in (b"{", b"[") else "text/plain; charset=utf-8"
