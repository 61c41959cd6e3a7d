"""The one error shape of every answer that is not a success.

Only the 400 body is recorded from a real account (docs/simulator.md: ``{"errors": {"code": 400,
"message": [...]}}``); 401, 403, 404, 405 and 429 reuse it by design.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ApiError(Exception):
    def __init__(
        self, status: int, messages: str | Sequence[str], headers: Mapping[str, str] | None = None
    ) -> None:
        self.status = status
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.headers = dict(headers or {})
        super().__init__(f"{status}: {'; '.join(self.messages)}")


def envelope(status: int, messages: Sequence[str]) -> dict[str, Any]:
    return {"errors": {"code": status, "message": list(messages)}}
