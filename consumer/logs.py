"""Structured logs: structlog configured once, JSON lines to stdout (or a console format).

Every event outcome is one canonical line (``event=delivered|dead_lettered|skipped|retrying``)
with the fields dashboards group by. A last processor removes anything that looks like the API
key or an Authorization header, whatever a caller passed in.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, TextIO

import orjson
import structlog

_SECRET_KEYS = frozenset({"api_key", "authorization", "password", "token", "headers"})
_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")


def configure(
    level: str = "info",
    fmt: str = "json",
    stream: TextIO | None = None,
    secrets: Sequence[str] = (),
    *,
    hash_emails: bool = False,
    libraries: bool = False,
) -> None:
    """Configure once at start-up. ``secrets`` are scrubbed from every value of every line;
    with ``hash_emails`` every email address becomes ``email:<12 hex of its sha256>`` (of the
    lower-cased address, so an operator can still find one person's lines). ``libraries``: the
    standard-library logging of aiokafka and aiohttp goes through the same scrubbing and
    rendering, so the one stream stays one format (the service process sets it)."""
    out = stream or sys.stdout
    scrub = _Scrubber(tuple(s for s in secrets if len(s) >= 4), hash_emails)
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
    if libraries:
        handler = logging.StreamHandler(out)
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=[
                    structlog.stdlib.add_log_level,
                    structlog.stdlib.add_logger_name,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                ],
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    scrub,
                    renderer,
                ],
            )
        )
        root = logging.getLogger()
        root.handlers = [handler]
        root.setLevel(logging.getLevelNamesMapping()[level.upper()])


def _dumps(value: Mapping[str, Any], **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def email_digest(address: str) -> str:
    return "email:" + hashlib.sha256(address.lower().encode()).hexdigest()[:12]


class _Scrubber:
    def __init__(self, secrets: tuple[str, ...], hash_emails: bool = False) -> None:
        self._secrets = secrets
        self._hash_emails = hash_emails

    def __call__(
        self, _: object, __: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in event.items():
            if key.lower() in _SECRET_KEYS:
                event[key] = "[redacted]"
            elif isinstance(value, str):
                for secret in self._secrets:
                    if secret in value:
                        event[key] = value = value.replace(secret, "[redacted]")
                if self._hash_emails and "@" in value:
                    event[key] = _EMAIL.sub(lambda m: email_digest(m.group()), value)
        return event


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
