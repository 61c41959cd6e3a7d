"""The service's settings: one typed, immutable object built once at start-up from the environment.

A secret may also come from a mounted secrets directory (one file per variable, as Kubernetes
mounts a Secret); the environment wins when both are set. Every problem is reported at once,
naming the variable and what is wrong with it, before anything connects anywhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from consumer.endpoint import api_base
from translate import ConfigurationError, EventFilter, Flavor, Pattern, parse_patterns


class Secret:
    """A value that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _int(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"must be {bound}, got {number}")
        return number

    return parse


def _fraction(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not 0 < number <= 1:
        raise ValueError(f"must be more than 0 and at most 1, got {value.strip()}")
    return number


def _flag(value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        chosen = value.strip().lower()
        if chosen not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return chosen

    return parse


def _protocol(value: str) -> str:
    return _choice("plaintext", "ssl", "sasl_plaintext", "sasl_ssl")(value).upper()


def _flavor(value: str) -> Flavor:
    return Flavor(_choice("suite", "classic")(value))


def _stage_map(value: str) -> Mapping[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(str.strip, value.split(",")):
        event, sep, stage = item.partition("=")
        if not sep or not event.strip() or not stage.strip():
            raise ValueError(f"expected 'Event Name=Stage Name, …', got {item.strip()!r}")
        pairs[event.strip()] = stage.strip()
    return pairs


def _patterns(value: str) -> tuple[Pattern, ...]:
    try:
        return parse_patterns(value)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None


def _included(value: str) -> tuple[Pattern, ...]:
    patterns = _patterns(value)
    if not patterns:
        raise ValueError("names no pattern: nothing would reach Freshsales (the default is *)")
    return patterns


_CUSTOM_FIELD = re.compile(r"cf_[a-z0-9_]+\Z")


def _custom_field(value: str) -> str:
    name = value.strip()
    if not _CUSTOM_FIELD.match(name):
        raise ValueError(f"expected a custom field's internal name, cf_…, got {value!r}")
    return name


_EVERYTHING: Final = parse_patterns("*")
_PAGES: Final = parse_patterns("page")


@dataclass(frozen=True)
class Spec:
    variable: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    secret: bool = False


def _spec(
    variable: str, parse: Callable[[str], Any], default: Any, help: str, secret: bool = False
) -> Any:
    return field(metadata={"spec": Spec(variable, parse, default, help, secret)})


REQUIRED: Final = object()
# Required by ``run`` only: a Kafka-only command (``dlq replay``) stands in these placeholders.
_FRESHSALES_ONLY: Final[Mapping[str, Any]] = {"FRESHSALES_API_KEY": Secret("")}


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str = _spec(
        "KAFKA_BOOTSTRAP_SERVERS", _text, REQUIRED, "Kafka brokers, comma-separated"
    )
    kafka_topic: str = _spec("KAFKA_TOPIC", _text, "segment-events", "source topic")
    kafka_group_id: str = _spec("KAFKA_GROUP_ID", _text, "freshsales-destination", "consumer group")
    kafka_dlq_topic: str = _spec(
        "KAFKA_DLQ_TOPIC", _text, "", "dead-letter topic (default: <topic>.dlq)"
    )
    kafka_security_protocol: str = _spec(
        "KAFKA_SECURITY_PROTOCOL",
        _protocol,
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    )
    kafka_sasl_mechanism: str = _spec(
        "KAFKA_SASL_MECHANISM", _text, "PLAIN", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    kafka_sasl_username: str = _spec("KAFKA_SASL_USERNAME", _text, "", "SASL user")
    kafka_sasl_password: Secret | None = _spec(
        "KAFKA_SASL_PASSWORD", Secret, None, "SASL password (secret)", secret=True
    )
    kafka_ssl_cafile: str = _spec("KAFKA_SSL_CAFILE", _text, "", "CA bundle for SSL")
    kafka_session_timeout_ms: int = _spec(
        "KAFKA_SESSION_TIMEOUT_MS", _int(1000), 10_000, "group session timeout"
    )
    kafka_heartbeat_interval_ms: int = _spec(
        "KAFKA_HEARTBEAT_INTERVAL_MS", _int(100), 3_000, "group heartbeat interval"
    )
    freshsales_domain: str = _spec(
        "FRESHSALES_DOMAIN",
        _text,
        "",
        "account alias, host or URL (required unless FRESHSALES_BASE_URL)",
    )
    freshsales_api_key: Secret = _spec(
        "FRESHSALES_API_KEY", Secret, REQUIRED, "API key (secret)", secret=True
    )
    freshsales_flavor: Flavor = _spec(
        "FRESHSALES_FLAVOR", _flavor, Flavor.SUITE, "suite or classic"
    )
    freshsales_base_url: str = _spec(
        "FRESHSALES_BASE_URL", _text, "", "explicit API base (simulator, proxy)"
    )
    rate_limit_per_hour: int = _spec(
        "FRESHSALES_RATE_LIMIT_PER_HOUR", _int(1), 1000, "the account's API calls per hour"
    )
    rate_limit_per_minute: int = _spec(
        "FRESHSALES_RATE_LIMIT_PER_MINUTE", _int(1), 400, "the account's API calls per minute"
    )
    quota_share: float = _spec(
        "FRESHSALES_QUOTA_SHARE", _fraction, 1.0, "this replica's fraction of the quota"
    )
    unchanged_window_seconds: int = _spec(
        "SKIP_UNCHANGED_SECONDS", _int(0), 24 * 3600, "how long an unchanged upsert is skipped"
    )
    coalesce_identifies: bool = _spec(
        "COALESCE_IDENTIFIES", _flag, True, "merge a user's queued identifies into one upsert"
    )
    dedupe_window_seconds: int = _spec(
        "DEDUPE_WINDOW_SECONDS", _int(0), 24 * 3600, "how long a track/page messageId is remembered"
    )
    kafka_ledger_topic: str = _spec(
        "KAFKA_LEDGER_TOPIC", _text, "", "delivered activities' ledger (default: <group>.delivered)"
    )
    quota_log_seconds: int = _spec(
        "QUOTA_LOG_SECONDS", _int(0), 60, "interval of the quota log line (0: at shutdown only)"
    )
    track_activity_type: str = _spec(
        "FRESHSALES_TRACK_ACTIVITY_TYPE", _text, "Segment Event", "sales activity type for track"
    )
    page_activity_type: str = _spec(
        "FRESHSALES_PAGE_ACTIVITY_TYPE", _text, "Page View", "sales activity type for page"
    )
    screen_activity_type: str = _spec(
        "FRESHSALES_SCREEN_ACTIVITY_TYPE",
        _text,
        "",
        "sales activity type for screen (default: the page type)",
    )
    group_id_field: str = _spec(
        "FRESHSALES_GROUP_ID_FIELD",
        _custom_field,
        "",
        "account custom field (cf_…) for a group's groupId (default: not sent)",
    )
    lead_stage: str = _spec(
        "FRESHSALES_LEAD_STAGE", _text, "Lead", "Suite: lifecycle stage of a lead"
    )
    stage_map: Mapping[str, str] = _spec(
        "FRESHSALES_STAGE_MAP", _stage_map, {}, "track event → lifecycle stage, 'Event=Stage,…'"
    )
    default_owner_id: int | None = _spec(
        "FRESHSALES_DEFAULT_OWNER_ID", _int(1), None, "owner for activities of people without one"
    )
    page_events: str = _spec(
        "PAGE_EVENTS", _choice("deliver", "drop"), "deliver", "deliver or drop page events"
    )
    events_include: tuple[Pattern, ...] = _spec(
        "EVENTS_INCLUDE",
        _included,
        _EVERYTHING,
        "events delivered: TYPE or TYPE:NAME patterns with *, comma-separated",
    )
    events_exclude: tuple[Pattern, ...] = _spec(
        "EVENTS_EXCLUDE", _patterns, (), "events never delivered (wins over EVENTS_INCLUDE)"
    )
    max_in_flight: int = _spec("MAX_IN_FLIGHT", _int(1, 1024), 16, "concurrent deliveries")
    max_buffered: int = _spec(
        "MAX_BUFFERED", _int(1), 10_000, "fetched, unfinished events before fetching pauses"
    )
    shutdown_grace_seconds: int = _spec(
        "SHUTDOWN_GRACE_SECONDS", _int(0), 30, "time to finish in-flight work on SIGTERM"
    )
    retry_max_seconds: int = _spec(
        "RETRY_MAX_SECONDS", _int(1), 4 * 3600, "transient failures before dead-lettering"
    )
    http_timeout_seconds: int = _spec("FRESHSALES_TIMEOUT_SECONDS", _int(1), 30, "per-call timeout")
    http_port: int = _spec(
        "HTTP_PORT", _int(0, 65535), 8080, "health and metrics port (0: any free)"
    )
    log_level: str = _spec(
        "LOG_LEVEL", _choice("debug", "info", "warning", "error"), "info", "log level"
    )
    log_format: str = _spec("LOG_FORMAT", _choice("json", "console"), "json", "json or console")
    log_hash_emails: bool = _spec(
        "LOG_HASH_EMAILS", _flag, False, "email addresses in logs as email:<sha256 prefix>"
    )

    @property
    def dlq_topic(self) -> str:
        return self.kafka_dlq_topic or f"{self.kafka_topic}.dlq"

    @property
    def ledger_topic(self) -> str:
        # Per group, not per topic: two destinations reading one topic deliver independently.
        return self.kafka_ledger_topic or f"{self.kafka_group_id}.delivered"

    @property
    def event_filter(self) -> EventFilter:
        """Which events reach Freshsales; ``PAGE_EVENTS=drop`` is ``page`` excluded."""
        dropped = _PAGES if self.page_events == "drop" else ()
        return EventFilter(self.events_include, self.events_exclude + dropped)

    @property
    def api_base(self) -> str:
        return api_base(self.freshsales_domain, self.freshsales_flavor, self.freshsales_base_url)

    @classmethod
    def specs(cls) -> list[Spec]:
        return [f.metadata["spec"] for f in fields(cls)]

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        secrets_dir: Path | None = None,
        *,
        freshsales: bool = True,
    ) -> Settings:
        """Read every setting; raise one ConfigurationError listing every problem found.

        ``freshsales=False`` is for commands that only talk to Kafka (``dlq replay``): every
        variable is still read and checked, but the Freshsales key and domain are not required
        (``freshsales_api_key`` is then empty)."""
        environ = os.environ if env is None else env
        if secrets_dir is None and environ.get("SECRETS_DIR"):
            secrets_dir = Path(environ["SECRETS_DIR"])
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in fields(cls):
            spec: Spec = f.metadata["spec"]
            raw = environ.get(spec.variable)
            if raw is None and spec.secret and secrets_dir is not None:
                raw = _read_secret(secrets_dir / spec.variable, problems)
            if raw is None or not raw.strip():
                if not freshsales and spec.variable in _FRESHSALES_ONLY:
                    values[f.name] = _FRESHSALES_ONLY[spec.variable]
                    continue
                if spec.default is REQUIRED:
                    problems.append(f"{spec.variable} is required ({spec.help})")
                values[f.name] = spec.default
                continue
            try:
                values[f.name] = spec.parse(raw)
            except ValueError as exc:
                problems.append(f"{spec.variable}: {exc}")
        if not problems:
            settings = cls(**values)
            problems += settings._cross_checks(freshsales)
            if not problems:
                return settings
        raise ConfigurationError("invalid configuration:\n  " + "\n  ".join(problems))

    def _cross_checks(self, freshsales: bool) -> list[str]:
        problems = []
        if not freshsales:
            pass  # a Kafka-only command never builds the API base: no domain to check
        elif not self.freshsales_domain and not self.freshsales_base_url:
            problems.append("FRESHSALES_DOMAIN is required (or FRESHSALES_BASE_URL)")
        else:
            try:
                _ = self.api_base
            except ConfigurationError as exc:
                problems.append(str(exc))
        if self.kafka_heartbeat_interval_ms * 3 > self.kafka_session_timeout_ms:
            problems.append(
                "KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of KAFKA_SESSION_TIMEOUT_MS"
            )
        if self.kafka_security_protocol.startswith("SASL") and not self.kafka_sasl_username:
            problems.append("KAFKA_SASL_USERNAME is required with a SASL security protocol")
        if self.dlq_topic == self.kafka_topic:
            problems.append("KAFKA_DLQ_TOPIC must differ from KAFKA_TOPIC")
        if self.ledger_topic in (self.kafka_topic, self.dlq_topic):
            problems.append("KAFKA_LEDGER_TOPIC must differ from KAFKA_TOPIC and the DLQ topic")
        return problems


def _read_secret(path: Path, problems: list[str]) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        problems.append(f"{path.name}: cannot read the mounted secret ({exc.strerror})")
        return None
