"""Structured logs: structlog configured once, JSON lines to stdout (or a console format).

Every event outcome is one canonical line (``event=delivered|dead_lettered|skipped|retrying``)
with the fields dashboards group by. A last processor removes anything that looks like the API
key or an Authorization header, whatever a caller passed in.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, TextIO

import orjson
import structlog

_SECRET_KEYS = frozenset({"api_key", "authorization", "password", "token", "headers"})


def configure(
    level: str = "info",
    fmt: str = "json",
    stream: TextIO | None = None,
    secrets: Sequence[str] = (),
) -> None:
    """Configure once at start-up. ``secrets`` are scrubbed from every value of every line."""
    out = stream or sys.stdout
    scrub = _Scrubber(tuple(s for s in secrets if len(s) >= 4))
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            scrub,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


def _dumps(value: Mapping[str, Any], **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class _Scrubber:
    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._secrets = secrets

    def __call__(
        self, _: object, __: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in event.items():
            if key.lower() in _SECRET_KEYS:
                event[key] = "[redacted]"
            elif self._secrets and isinstance(value, str):
                for secret in self._secrets:
                    if secret in value:
                        event[key] = value = value.replace(secret, "[redacted]")
        return event


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
