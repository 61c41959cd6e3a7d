"""The quota stage: every Freshsales call of the service waits here for its place in the budget.

A call takes its turn (``Budget.acquire``), goes to the client, and its reply — answered or not,
the server may have counted it — tells the budget what the quota looks like now (429s,
Retry-After, ``X-RateLimit-Remaining``) before it is judged. Deliveries, the start-up reads and
the key re-checks all call through here; only ``check``, a one-off process, calls the client
directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from consumer.freshsales.answers import Answer, retry_after_seconds, settle
from consumer.freshsales.client import FreshsalesClient


class Meter(Protocol):
    """The quota every call spends (``consumer.freshsales.budget.Budget``)."""

    async def acquire(self) -> int | None:
        """Wait for a place; a ticket naming the call for ``release`` (or None)."""

    def release(
        self,
        status: int | None,
        *,
        retry_after_s: float | None = None,
        remaining: int | None = None,
        total: int | None = None,
        ticket: int | None = None,
    ) -> None: ...


class PacedCaller:
    def __init__(self, budget: Meter, client: FreshsalesClient) -> None:
        self.budget = budget
        self.client = client

    async def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None
    ) -> Answer:
        request = self.client.prepare(method, path, body)
        ticket = await self.budget.acquire()
        reply = None
        try:
            reply = await self.client.exchange(request)
        finally:
            # Every call sent counts, answered or not: the server may have seen it.
            now = self.client.clock()
            self.budget.release(
                None if reply is None else reply.status,
                retry_after_s=retry_after_seconds(reply.retry_after, now)
                if reply is not None and reply.status == 429
                else None,
                remaining=None if reply is None else reply.remaining,
                total=None if reply is None else reply.total,
                ticket=ticket,
            )
        return settle(reply, now)
