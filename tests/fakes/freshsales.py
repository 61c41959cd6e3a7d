"""Freshsales in memory, behind the engine's ``Caller`` port: records get ids, calls are logged,
and failures can be scripted by call number or by what is called.

The simulator (``sandbox/simulator``) is the faithful stand-in, used by the integration tests; this
one only answers the way the engine needs to be driven: an upsert returns the same id for the
same unique identifier, a create a new id, and anything can be made to fail or to wait.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import orjson

from consumer.errors import FreshsalesError
from consumer.freshsales.answers import Answer


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Mapping[str, object] | None

    @property
    def resource(self) -> str:
        """The path without its query (``contacts/upsert`` for ``…?include=sales_accounts``)."""
        return self.path.partition("?")[0]

    @property
    def envelope(self) -> Mapping[str, object]:
        """The record part of the body (``contact``, ``sales_activity``, …)."""
        for key, value in (self.body or {}).items():
            if key != "unique_identifier" and isinstance(value, Mapping):
                return value
        return {}


Failure = Callable[[Call], FreshsalesError | None]


@dataclass
class FakeFreshsales:
    calls: list[Call] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    """Asked in order for every call; the first error returned is raised."""
    gate: asyncio.Event | None = None
    """When set to an unset event, every call waits for it (a slow Freshsales)."""
    before: Callable[[Call], Awaitable[None]] | None = None
    """Awaited before each answer: a delay, or a wait for some calls only."""
    answers: dict[str, Mapping[str, object]] = field(default_factory=dict)
    """Fixed answers by resource (``filtered_search/contact`` → ``{"contacts": [...]}``)."""
    in_flight: int = 0
    most_concurrent: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _records: dict[str, int] = field(default_factory=dict)

    async def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None
    ) -> Answer:
        call = Call(method, path, body)
        self.calls.append(call)
        self.in_flight += 1
        self.most_concurrent = max(self.most_concurrent, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.before is not None:
                await self.before(call)
        finally:
            self.in_flight -= 1
        for failure in self.failures:
            error = failure(call)
            if error is not None:
                raise error
        if call.resource in self.answers:
            return Answer(200, self.answers[call.resource])
        return Answer(200, {self._envelope_name(call): self._record(call)})

    def fail(self, error: FreshsalesError, *, path: str | None = None, times: int = 1) -> None:
        """The next ``times`` calls (to ``path``, when given) raise ``error``."""
        left = [times]

        def failure(call: Call) -> FreshsalesError | None:
            if left[0] <= 0 or (path is not None and call.resource != path):
                return None
            left[0] -= 1
            return error

        self.failures.append(failure)

    def sent(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.resource == path]

    def _record(self, call: Call) -> dict[str, object]:
        body = call.body or {}
        unique = body.get("unique_identifier")
        _, _, known = call.resource.partition("/")
        if call.resource.endswith("/upsert") and unique is not None:
            key = call.resource + orjson.dumps(unique, option=orjson.OPT_SORT_KEYS).decode()
            ident = self._records.setdefault(key, next(self._ids))
        elif known.isdigit():  # a record read or written by its id
            ident = int(known)
        else:
            ident = next(self._ids)
        return {**call.envelope, "id": ident, "owner_id": 900}

    @staticmethod
    def _envelope_name(call: Call) -> str:
        for key in call.body or {}:
            if key != "unique_identifier":
                return key
        return call.resource.split("/")[0].rstrip("s")
