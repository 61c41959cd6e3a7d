"""``/_sim/*``: the simulator's own endpoints, for the ``simulate`` command and other processes.

No auth, no quota, no faults, not logged: they observe and steer the simulator, they are not
part of the simulated API.

    GET  /_sim/requests[?since=N]   the request log, from the N-th request since reset on;
                                    "next" is the N to ask for next time
    GET  /_sim/state?flavor=suite   every record per module, as the API renders it
    POST /_sim/reset                records, log, faults and rate windows start over
    GET  /_sim/faults               how many queued faults are left
    POST /_sim/faults               queue a fault: {"status", "times", "retry_after", "drop",
                                    "delay_s", "body"}
    DELETE /_sim/faults             drop the queued faults (the end of an injected outage)
    POST /_sim/key                  {"api_key": "..."}: the full-rights key from now on; the old
                                    one is refused (a revoked or rotated key)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from sandbox.simulator.errors import ApiError
from sandbox.simulator.faults import Fault
from sandbox.simulator.responses import error_response, json_response

if TYPE_CHECKING:
    from sandbox.simulator.server import Simulator

Endpoint = Callable[["Simulator", web.Request], Awaitable[Any]]


async def handle(sim: Simulator, request: web.Request) -> web.Response:
    try:
        methods = _ENDPOINTS.get(request.path.removeprefix("/_sim").strip("/"))
        if methods is None:
            raise ApiError(404, f"No simulator endpoint at {request.path}")
        endpoint = methods.get(request.method)
        if endpoint is None:
            raise ApiError(405, f"{request.method} not allowed here", {"Allow": ", ".join(methods)})
        return json_response(200, await endpoint(sim, request))
    except ApiError as error:
        return error_response(error)


async def _requests(sim: Simulator, request: web.Request) -> Any:
    text = request.query.get("since", "0")
    if not text.isdigit():
        raise ApiError(400, "since must be a whole number")
    start = max(0, int(text) - sim.log_offset)
    entries = sim.requests[start:]
    return {
        "requests": [entry.to_json() for entry in entries],
        "next": sim.log_offset + start + len(entries),
    }


async def _state(sim: Simulator, request: web.Request) -> Any:
    try:
        return sim.state(request.query.get("flavor", "suite"))
    except ValueError as problem:
        raise ApiError(400, str(problem)) from None


async def _reset(sim: Simulator, request: web.Request) -> Any:
    sim.reset()
    return {"reset": True}


async def _pending(sim: Simulator, request: web.Request) -> Any:
    return {"pending": sim.pending_faults}


async def _inject(sim: Simulator, request: web.Request) -> Any:
    try:
        spec = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(spec, Mapping):
        raise ApiError(400, "Expected a JSON object describing the fault")
    times = spec.get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise ApiError(400, "times must be a whole number >= 1")
    sim.inject(_fault(spec), times)
    return {"queued": times, "pending": sim.pending_faults}


async def _clear(sim: Simulator, request: web.Request) -> Any:
    return {"cleared": sim.clear_faults(), "pending": sim.pending_faults}


async def _key(sim: Simulator, request: web.Request) -> Any:
    try:
        spec = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(spec, Mapping) or set(spec) != {"api_key"}:
        raise ApiError(400, 'Expected {"api_key": "<the new key>"}')
    key = spec["api_key"]
    if not isinstance(key, str):
        raise ApiError(400, "api_key must be a string")
    try:
        sim.set_api_key(key)
    except ValueError as problem:
        raise ApiError(400, str(problem)) from None
    return {"api_key": sim.api_key}


def _fault(spec: Mapping[str, Any]) -> Fault:
    unknown = set(spec) - {"status", "times", "retry_after", "drop", "delay_s", "body"}
    if unknown:
        raise ApiError(400, [f"Unknown fault field '{name}'" for name in sorted(unknown)])
    status, retry_after = spec.get("status"), spec.get("retry_after")
    drop, delay, body = spec.get("drop", False), spec.get("delay_s", 0), spec.get("body")
    problems = []
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        problems.append("status must be an HTTP status code")
    if retry_after is not None and not isinstance(retry_after, str | int):
        problems.append("retry_after must be a string (seconds or an HTTP date)")
    if not isinstance(drop, bool):
        problems.append("drop must be true or false")
    if isinstance(delay, bool) or not isinstance(delay, int | float):
        problems.append("delay_s must be a number of seconds")
    if body is not None and not isinstance(body, str):
        problems.append("body must be a string")
    if status is None and body is None and drop is False and not delay:
        problems.append("A fault needs status, body, drop or delay_s")
    if problems:
        raise ApiError(400, problems)
    try:
        return Fault(
            status=status,
            retry_after=None if retry_after is None else str(retry_after),
            drop=drop,
            delay_s=float(delay),
            body=None if body is None else body.encode(),
        )
    except ValueError as problem:
        raise ApiError(400, str(problem)) from None


_ENDPOINTS: Mapping[str, Mapping[str, Endpoint]] = {
    "requests": {"GET": _requests},
    "state": {"GET": _state},
    "reset": {"POST": _reset},
    "faults": {"GET": _pending, "POST": _inject, "DELETE": _clear},
    "key": {"POST": _key},
}
