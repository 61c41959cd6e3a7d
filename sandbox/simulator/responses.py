"""JSON answers, and the one error envelope every failure uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from sandbox.simulator.errors import ApiError, envelope


def json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(payload), content_type="application/json", headers=headers
    )


def error_response(error: ApiError, headers: Mapping[str, str] | None = None) -> web.Response:
    merged = {**(headers or {}), **error.headers}
    return json_response(error.status, envelope(error.status, error.messages), merged)
