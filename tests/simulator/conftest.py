"""A simulator per test, served by aiohttp's test server, with a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDictProxy

from sandbox.simulator import Simulator, SimulatorConfig

KEY = "sim-api-key"
AUTH = {"Authorization": f"Token token={KEY}"}
PREFIX = {"suite": "/crm/sales/api/", "classic": "/api/"}


class FakeClock:
    def __init__(self, now: float = 1_793_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: Any  # parsed JSON, or the text when the answer is not JSON

    @property
    def errors(self) -> list[str]:
        """The messages of an error answer, after checking the envelope carries the status."""
        assert set(self.body) == {"errors"}, self.body
        assert self.body["errors"]["code"] == self.status
        messages = self.body["errors"]["message"]
        assert isinstance(messages, list)
        return messages


class Api:
    """Calls paths relative to a flavour's API base, authenticated unless told otherwise."""

    def __init__(self, client: TestClient[Any, Any], sim: Simulator) -> None:
        self.client = client
        self.sim = sim

    async def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        flavor: str = "suite",
        headers: Mapping[str, str] = AUTH,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> Answer:
        data = raw if raw is not None else (None if body is None else orjson.dumps(body))
        sent = dict(headers)
        if data is not None:
            sent["Content-Type"] = content_type
        url = path if path.startswith("/") else PREFIX[flavor] + path
        async with self.client.request(method, url, data=data, headers=sent) as response:
            text = await response.text()
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = text
            return Answer(response.status, response.headers, parsed)

    async def get(self, path: str, **kw: Any) -> Answer:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: object = None, **kw: Any) -> Answer:
        return await self.call("POST", path, body, **kw)

    async def put(self, path: str, body: object = None, **kw: Any) -> Answer:
        return await self.call("PUT", path, body, **kw)

    async def delete(self, path: str, **kw: Any) -> Answer:
        return await self.call("DELETE", path, **kw)

    async def seeded(self, selector: str, name: str | None = None, flavor: str = "suite") -> int:
        """The id of a selector entry (the first, or the one with this name)."""
        entries = (await self.get(f"selector/{selector}", flavor=flavor)).body[selector]
        key = "display_name" if selector == "owners" else "name"
        return int(next(e["id"] for e in entries if name is None or e[key] == name))

    async def account(self, name: str, flavor: str = "suite", **fields: Any) -> int:
        body = {"unique_identifier": {"name": name}, "sales_account": {"name": name, **fields}}
        answer = await self.post("sales_accounts/upsert", body, flavor=flavor)
        assert answer.status == 200, answer.body
        return int(answer.body["sales_account"]["id"])

    async def person(self, email: str, flavor: str = "suite", module: str = "contacts") -> int:
        envelope = module[:-1]
        body = {"unique_identifier": {"emails": email}, envelope: {"emails": email}}
        answer = await self.post(f"{module}/upsert", body, flavor=flavor)
        assert answer.status == 200, answer.body
        return int(answer.body[envelope]["id"])


MakeApi = Callable[..., Awaitable[Api]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_api(clock: FakeClock) -> AsyncIterator[MakeApi]:
    clients: list[TestClient[Any, Any]] = []

    async def make(config: SimulatorConfig | None = None, **settings: Any) -> Api:
        sim = Simulator(config or SimulatorConfig(**settings), clock=clock)
        client = TestClient(TestServer(sim.app))
        await client.start_server()
        clients.append(client)
        return Api(client, sim)

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    return await make_api()
