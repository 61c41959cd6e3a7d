"""``HTTP_PORT``: ``/metrics`` (Prometheus), ``/healthz`` (alive) and ``/readyz`` (ready).

Kubernetes restarts a pod whose liveness probe fails and routes nothing to one that is not ready;
for a consumer, "ready" is what dashboards and alerts watch: partitions assigned, the key
accepted, the circuit closed. The server starts before anything else so that a slow start-up
reads as "not ready" rather than "dead".
"""

from __future__ import annotations

import errno

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from consumer.errors import ConfigurationError
from consumer.ops.metrics import registry_for
from consumer.ops.observed import Observed, alive, ready


class OpsServer:
    def __init__(self, service: Observed, port: int, host: str = "0.0.0.0") -> None:
        self._service = service
        self._port = port
        self._host = host
        self._registry = registry_for(service)
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)

    async def start(self) -> int:
        """Listen; the port bound (``HTTP_PORT=0`` picks a free one)."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            why = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be opened ({exc})"
            raise ConfigurationError(f"HTTP_PORT {self._port} {why}") from None
        address = self._runner.addresses[0]
        return int(address[1])

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, detail = alive(self._service)
        return web.json_response({"ok": ok, "detail": detail}, status=200 if ok else 503)

    async def _readyz(self, request: web.Request) -> web.Response:
        ok, detail = ready(self._service)
        return web.json_response({"ready": ok, "detail": detail}, status=200 if ok else 503)
