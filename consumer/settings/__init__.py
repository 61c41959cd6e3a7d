"""The service's settings: one typed, immutable object built once at start-up.

The contract, for every command that reads them:

- Values come from the environment. A secret (``FRESHSALES_API_KEY``, ``KAFKA_SASL_PASSWORD``)
  may instead be a file named after its variable in the directory ``SECRETS_DIR`` (a mounted
  Kubernetes Secret); the environment wins when both are set. An empty value means unset.
- Every problem is reported at once, in one ``ConfigurationError`` with one line per problem,
  each naming the variable and what is wrong with it, before anything connects anywhere.
- A secret never prints: not in a repr, a log line, a traceback or an error message. Its value
  is read with ``.get_secret_value()`` where it is sent, and nowhere else.

Each field declares its variable (the validation alias), its default and its help text (the
description); the README's configuration table and deploy/ are checked against them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final

from pydantic import (
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from consumer.errors import ConfigurationError
from consumer.freshsales.endpoint import api_base
from consumer.settings.sources import EnvironmentSource, Unreadable, is_secret, variable_of
from consumer.settings.values import (
    CustomField,
    DigestMode,
    Flag,
    FlavorName,
    Fraction,
    Included,
    Patterns,
    Protocol,
    StageMap,
    Text,
    choice,
    problem_lines,
    whole,
)
from translate import EventFilter, Flavor, parse_patterns

REQUIRED: Final = object()
_EVERYTHING: Final = parse_patterns("*")
_PAGES: Final = parse_patterns("page")


@dataclass(frozen=True)
class Spec:
    """One setting as the README's table and deploy/ show it."""

    variable: str
    default: Any
    help: str
    secret: bool = False


def _setting(variable: str, default: Any, help: str) -> Any:
    if default is REQUIRED:
        return Field(validation_alias=variable, description=help)
    return Field(default, validation_alias=variable, description=help)


class Settings(BaseSettings):
    # Defaults are the code's own values, not text to parse; inputs never show in pydantic's
    # own messages, since a secret may be one of them.
    model_config = SettingsConfigDict(
        frozen=True, validate_default=False, hide_input_in_errors=True
    )
    _talks_to_freshsales: ClassVar[bool] = True  # see KafkaOnlySettings

    kafka_bootstrap_servers: Text = _setting(
        "KAFKA_BOOTSTRAP_SERVERS", REQUIRED, "Kafka brokers, comma-separated"
    )
    kafka_topic: Text = _setting("KAFKA_TOPIC", "segment-events", "source topic")
    kafka_group_id: Text = _setting("KAFKA_GROUP_ID", "freshsales-destination", "consumer group")
    kafka_dlq_topic: Text = _setting(
        "KAFKA_DLQ_TOPIC", "", "dead-letter topic (default: <topic>.dlq)"
    )
    kafka_security_protocol: Protocol = _setting(
        "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: Text = _setting(
        "KAFKA_SASL_MECHANISM", "PLAIN", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    kafka_sasl_username: Text = _setting("KAFKA_SASL_USERNAME", "", "SASL user")
    kafka_sasl_password: SecretStr | None = _setting(
        "KAFKA_SASL_PASSWORD", None, "SASL password (secret)"
    )
    kafka_ssl_cafile: Text = _setting("KAFKA_SSL_CAFILE", "", "CA bundle for SSL")
    kafka_session_timeout_ms: Annotated[int, whole(1000)] = _setting(
        "KAFKA_SESSION_TIMEOUT_MS", 10_000, "group session timeout"
    )
    kafka_heartbeat_interval_ms: Annotated[int, whole(100)] = _setting(
        "KAFKA_HEARTBEAT_INTERVAL_MS", 3_000, "group heartbeat interval"
    )
    freshsales_domain: Text = _setting(
        "FRESHSALES_DOMAIN", "", "account alias, host or URL (required unless FRESHSALES_BASE_URL)"
    )
    freshsales_api_key: SecretStr = _setting("FRESHSALES_API_KEY", REQUIRED, "API key (secret)")
    freshsales_flavor: FlavorName = _setting("FRESHSALES_FLAVOR", Flavor.SUITE, "suite or classic")
    freshsales_base_url: Text = _setting(
        "FRESHSALES_BASE_URL", "", "explicit API base (simulator, proxy)"
    )
    rate_limit_per_hour: Annotated[int, whole(1)] = _setting(
        "FRESHSALES_RATE_LIMIT_PER_HOUR", 1000, "the account's API calls per hour"
    )
    rate_limit_per_minute: Annotated[int, whole(1)] = _setting(
        "FRESHSALES_RATE_LIMIT_PER_MINUTE", 400, "the account's API calls per minute"
    )
    quota_share: Fraction = _setting(
        "FRESHSALES_QUOTA_SHARE",
        1.0,
        "this deployment's fraction of the account's quota (its replicas divide it by partitions)",
    )
    unchanged_window_seconds: Annotated[int, whole(0)] = _setting(
        "SKIP_UNCHANGED_SECONDS", 24 * 3600, "how long an unchanged upsert is skipped"
    )
    coalesce_identifies: Flag = _setting(
        "COALESCE_IDENTIFIES", True, "merge a user's queued identifies into one upsert"
    )
    activity_digest: DigestMode = _setting(
        "ACTIVITY_DIGEST",
        "auto",
        "auto (a person's waiting activities become one), off, or seconds (a session window)",
    )
    digest_max_events: Annotated[int, whole(2, 1000)] = _setting(
        "DIGEST_MAX_EVENTS", 50, "events in one digest activity, at most"
    )
    digest_max_chars: Annotated[int, whole(500, 65_000)] = _setting(
        "DIGEST_MAX_CHARS", 10_000, "characters of a digest's notes, at most"
    )
    dedupe_window_seconds: Annotated[int, whole(0)] = _setting(
        "DEDUPE_WINDOW_SECONDS", 24 * 3600, "how long a track/page/screen messageId is remembered"
    )
    kafka_ledger_topic: Text = _setting(
        "KAFKA_LEDGER_TOPIC", "", "delivered activities' ledger (default: <group>.delivered)"
    )
    kafka_identity_topic: Text = _setting(
        "KAFKA_IDENTITY_TOPIC", "", "the identity map's topic (default: <group>.identities)"
    )
    kafka_waiting_topic: Text = _setting(
        "KAFKA_WAITING_TOPIC",
        "",
        "events of people not known yet, while they wait (default: <group>.waiting)",
    )
    identity_wait_seconds: Annotated[int, whole(1)] = _setting(
        "IDENTITY_WAIT_SECONDS",
        30 * 24 * 3600,
        "how long events of a person not known yet wait for an identify or alias naming them",
    )
    identity_wait_max_events: Annotated[int, whole(1)] = _setting(
        "IDENTITY_WAIT_MAX_EVENTS", 100, "events waiting per identity, at most (oldest go first)"
    )
    identity_wait_max_total: Annotated[int, whole(1)] = _setting(
        "IDENTITY_WAIT_MAX_TOTAL",
        1_000_000,
        "events waiting on one replica, at most (the longest-waiting go first)",
    )
    quota_log_seconds: Annotated[int, whole(0)] = _setting(
        "QUOTA_LOG_SECONDS", 60, "interval of the quota log line (0: at shutdown only)"
    )
    track_activity_type: Text = _setting(
        "FRESHSALES_TRACK_ACTIVITY_TYPE", "Segment Event", "sales activity type for track"
    )
    page_activity_type: Text = _setting(
        "FRESHSALES_PAGE_ACTIVITY_TYPE", "Page View", "sales activity type for page"
    )
    screen_activity_type: Text = _setting(
        "FRESHSALES_SCREEN_ACTIVITY_TYPE",
        "",
        "sales activity type for screen (default: the page type)",
    )
    group_id_field: CustomField = _setting(
        "FRESHSALES_GROUP_ID_FIELD",
        "",
        "account custom field (cf_…) for a group's groupId (default: not sent)",
    )
    lead_stage: Text = _setting("FRESHSALES_LEAD_STAGE", "Lead", "Suite: lifecycle stage of a lead")
    stage_map: StageMap = _setting(
        "FRESHSALES_STAGE_MAP", {}, "track event → lifecycle stage, 'Event=Stage,…'"
    )
    default_owner_id: Annotated[int | None, whole(1)] = _setting(
        "FRESHSALES_DEFAULT_OWNER_ID", None, "owner for activities of people without one"
    )
    page_events: Annotated[str, choice("deliver", "drop")] = _setting(
        "PAGE_EVENTS", "deliver", "deliver or drop page events"
    )
    events_include: Included = _setting(
        "EVENTS_INCLUDE",
        _EVERYTHING,
        "events delivered: TYPE or TYPE:NAME patterns with *, comma-separated",
    )
    events_exclude: Patterns = _setting(
        "EVENTS_EXCLUDE", (), "events never delivered (wins over EVENTS_INCLUDE)"
    )
    max_in_flight: Annotated[int, whole(1, 1024)] = _setting(
        "MAX_IN_FLIGHT", 16, "concurrent deliveries"
    )
    max_buffered: Annotated[int, whole(1)] = _setting(
        "MAX_BUFFERED", 10_000, "events held whole (not folded) before fetching pauses"
    )
    max_folded: Annotated[int, whole(1)] = _setting(
        "MAX_FOLDED", 400_000, "events held folded (a line each) before fetching pauses"
    )
    shutdown_grace_seconds: Annotated[int, whole(0)] = _setting(
        "SHUTDOWN_GRACE_SECONDS", 30, "time to finish in-flight work on SIGTERM"
    )
    retry_max_seconds: Annotated[int, whole(1)] = _setting(
        "RETRY_MAX_SECONDS", 4 * 3600, "transient failures before dead-lettering"
    )
    http_timeout_seconds: Annotated[int, whole(1)] = _setting(
        "FRESHSALES_TIMEOUT_SECONDS", 30, "per-call timeout"
    )
    http_port: Annotated[int, whole(0, 65535)] = _setting(
        "HTTP_PORT", 8080, "health and metrics port (0: any free)"
    )
    log_level: Annotated[str, choice("debug", "info", "warning", "error")] = _setting(
        "LOG_LEVEL", "info", "log level"
    )
    log_format: Annotated[str, choice("json", "console")] = _setting(
        "LOG_FORMAT", "json", "json or console"
    )
    log_hash_emails: Flag = _setting(
        "LOG_HASH_EMAILS", False, "email addresses in logs as email:<sha256 prefix>"
    )

    @property
    def secrets(self) -> list[str]:
        """What no log line may show: the API key and the SASL password."""
        password = self.kafka_sasl_password
        return [
            self.freshsales_api_key.get_secret_value(),
            password.get_secret_value() if password else "",
        ]

    @property
    def dlq_topic(self) -> str:
        return self.kafka_dlq_topic or f"{self.kafka_topic}.dlq"

    @property
    def ledger_topic(self) -> str:
        # Per group, not per topic: two destinations reading one topic deliver independently.
        return self.kafka_ledger_topic or f"{self.kafka_group_id}.delivered"

    @property
    def identity_topic(self) -> str:
        return self.kafka_identity_topic or f"{self.kafka_group_id}.identities"

    @property
    def identity_checkpoint_group(self) -> str:
        """The consumer group whose committed offset says where the identity topic's last
        snapshot begins (it has no members)."""
        return f"{self.identity_topic}-checkpoint"

    @property
    def waiting_topic(self) -> str:
        return self.kafka_waiting_topic or f"{self.kafka_group_id}.waiting"

    @property
    def digest_window_s(self) -> float | None:
        """None: no digests (``off``); 0: fold what waits (``auto``); else the session window."""
        mode = self.activity_digest
        return None if mode == "off" else 0.0 if mode == "auto" else float(mode)

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
        return [
            Spec(
                variable_of(name, f),
                REQUIRED if f.is_required() else f.default,
                f.description or "",
                is_secret(f),
            )
            for name, f in cls.model_fields.items()
        ]

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
        model = cls if freshsales else KafkaOnlySettings
        source = EnvironmentSource(model, os.environ if env is None else env, secrets_dir)
        try:
            return model(_build_sources=((source,), {}))
        except ValidationError as exc:
            help = {s.variable: s.help for s in cls.specs()}
            problems = problem_lines(exc, help)
            invalid = {str(e["loc"][0]) for e in exc.errors(include_url=False) if e["loc"]}
            if invalid:  # pydantic checks across settings only once every setting is valid
                problems += model._cross_checks_besides(source(), invalid)
            # pydantic's own report, also as the cause in a traceback, is not for users.
            raise ConfigurationError("invalid configuration:\n  " + "\n  ".join(problems)) from None

    @classmethod
    def _cross_checks_besides(cls, raw: Mapping[str, Any], invalid: set[str]) -> list[str]:
        """The checks across settings, made with the valid ones, so that every problem is
        reported in one round. An invalid or missing setting is left at its default here, and a
        problem naming it is left out: its own problem is reported instead."""
        values = {}
        for name, f in cls.model_fields.items():
            variable = variable_of(name, f)
            if variable in raw and variable not in invalid:
                kind: Any = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
                values[name] = TypeAdapter(kind).validate_python(raw[variable])
        found = cls.model_construct(**values)._cross_checks()
        named = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(invalid))) + r")\b")
        return [problem for problem in found if not named.search(problem)]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # ``Settings()`` reads the process' environment by the rules of ``from_env``; no .env file.
        return init_settings, EnvironmentSource(settings_cls, os.environ)

    @field_validator("*", mode="before")
    @classmethod
    def _readable(cls, value: object) -> object:
        if isinstance(value, Unreadable):
            raise ValueError(str(value))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        # One error holding every problem, a line each: pydantic stops at a validator's first.
        found = self._cross_checks()
        if found:
            raise ValueError("\n".join(found))
        return self

    def _cross_checks(self) -> list[str]:
        problems = []
        if not self._talks_to_freshsales:
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
        own = {
            "KAFKA_IDENTITY_TOPIC": self.identity_topic,
            "KAFKA_WAITING_TOPIC": self.waiting_topic,
        }
        others = {self.kafka_topic, self.dlq_topic, self.ledger_topic}
        for variable, topic in own.items():
            if topic in others:
                problems.append(
                    f"{variable} must differ from KAFKA_TOPIC, the DLQ topic and the ledger topic"
                )
        if self.identity_topic == self.waiting_topic:
            problems.append("KAFKA_IDENTITY_TOPIC must differ from KAFKA_WAITING_TOPIC")
        return problems


class KafkaOnlySettings(Settings):
    """The settings of a command that talks to Kafka only (``dlq replay``).

    The Freshsales key and domain are not required, and not checked: the API base is never built.
    """

    _talks_to_freshsales: ClassVar[bool] = False
    freshsales_api_key: SecretStr = _setting(
        "FRESHSALES_API_KEY", SecretStr(""), "API key (secret)"
    )
