"""Settings: read once from the environment (and mounted secrets), every problem named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import InitSettingsSource

from consumer.errors import ConfigurationError
from consumer.settings import REQUIRED, Settings
from consumer.settings.values import problem_lines
from translate import Flavor

MINIMAL = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    "FRESHSALES_DOMAIN": "acme",
    "FRESHSALES_API_KEY": "k-123",
}


def test_defaults_follow_the_design_table() -> None:
    settings = Settings.from_env(MINIMAL)
    assert settings.kafka_topic == "segment-events"
    assert settings.kafka_group_id == "freshsales-destination"
    assert settings.dlq_topic == "segment-events.dlq"
    assert settings.freshsales_flavor is Flavor.SUITE
    assert settings.api_base == "https://acme.myfreshworks.com/crm/sales/api"
    assert (settings.rate_limit_per_hour, settings.rate_limit_per_minute) == (1000, 400)
    assert (settings.max_in_flight, settings.http_port) == (16, 8080)
    assert (settings.log_level, settings.log_format) == ("info", "json")
    assert settings.track_activity_type == "Segment Event"
    assert settings.page_activity_type == "Page View"
    assert settings.lead_stage == "Lead"
    assert settings.default_owner_id is None
    assert settings.page_events == "deliver"
    assert (settings.shutdown_grace_seconds, settings.retry_max_seconds) == (30, 14400)


def test_the_api_key_never_shows_itself() -> None:
    settings = Settings.from_env(MINIMAL)
    assert settings.freshsales_api_key.get_secret_value() == "k-123"
    assert "k-123" not in repr(settings)
    assert "k-123" not in str(settings.freshsales_api_key)


def test_every_problem_is_reported_at_once_naming_the_variable() -> None:
    env = {
        "FRESHSALES_DOMAIN": "acme.example.com",
        "MAX_IN_FLIGHT": "lots",
        "HTTP_PORT": "70000",
        "PAGE_EVENTS": "sometimes",
        "FRESHSALES_STAGE_MAP": "Order Completed",
    }
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    for expected in (
        "KAFKA_BOOTSTRAP_SERVERS is required",
        "FRESHSALES_API_KEY is required",
        "MAX_IN_FLIGHT: expected a whole number, got 'lots'",
        "HTTP_PORT: must be between 0 and 65535, got 70000",
        "PAGE_EVENTS: expected one of deliver, drop, got 'sometimes'",
        "FRESHSALES_STAGE_MAP: expected 'Event Name=Stage Name, …'",
        # A check across settings, in the same round as the settings that are wrong alone.
        "FRESHSALES_DOMAIN 'acme.example.com' is not a Freshsales host",
    ):
        assert expected in message


def test_a_check_across_settings_is_made_with_the_valid_ones_and_names_no_invalid_one() -> None:
    problems = _problems(
        {
            "FRESHSALES_API_KEY": "k",
            "KAFKA_SESSION_TIMEOUT_MS": "soon",  # its default would make the heartbeat too slow
            "KAFKA_HEARTBEAT_INTERVAL_MS": "5000",
            "FRESHSALES_FLAVOR": "enterprise",  # its default, suite, does not fit a Classic host
            "FRESHSALES_DOMAIN": "acme.freshsales.io",
            "KAFKA_DLQ_TOPIC": "segment-events",
        }
    )
    assert problems == [
        "KAFKA_BOOTSTRAP_SERVERS is required (Kafka brokers, comma-separated)",
        "KAFKA_SESSION_TIMEOUT_MS: expected a whole number, got 'soon'",
        "FRESHSALES_FLAVOR: expected one of suite, classic, got 'enterprise'",
        "KAFKA_DLQ_TOPIC must differ from KAFKA_TOPIC",
    ]


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ({"FRESHSALES_DOMAIN": ""}, "FRESHSALES_DOMAIN is required"),
        ({"FRESHSALES_DOMAIN": "evil.example.com"}, "not a Freshsales host"),
        ({"FRESHSALES_BASE_URL": "http://10.1.2.3:8080/api"}, "loopback"),
        ({"KAFKA_HEARTBEAT_INTERVAL_MS": "5000"}, "at most a third"),
        ({"KAFKA_SECURITY_PROTOCOL": "sasl_ssl"}, "KAFKA_SASL_USERNAME is required"),
        ({"KAFKA_DLQ_TOPIC": "segment-events"}, "must differ"),
        ({"FRESHSALES_API_KEY": "   "}, "FRESHSALES_API_KEY is required"),
    ],
)
def test_settings_that_cannot_work_are_refused_before_anything_connects(extra, complaint) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        Settings.from_env({**MINIMAL, **extra})


def test_values_are_parsed_to_their_types() -> None:
    settings = Settings.from_env(
        {
            **MINIMAL,
            "FRESHSALES_FLAVOR": "Classic",
            "FRESHSALES_DOMAIN": "acme.freshsales.io",
            "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "KAFKA_SASL_USERNAME": "svc",
            "FRESHSALES_STAGE_MAP": "Order Completed=Customer, Trial Started = Trial",
            "FRESHSALES_DEFAULT_OWNER_ID": "70000000007",
            "MAX_IN_FLIGHT": " 64 ",
        }
    )
    assert settings.freshsales_flavor is Flavor.CLASSIC
    assert settings.api_base == "https://acme.freshsales.io/api"
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.stage_map == {"Order Completed": "Customer", "Trial Started": "Trial"}
    assert settings.default_owner_id == 70000000007
    assert settings.max_in_flight == 64


def test_secrets_can_come_from_a_mounted_directory(tmp_path: Path) -> None:
    (tmp_path / "FRESHSALES_API_KEY").write_text("from-file\n")
    (tmp_path / "KAFKA_SASL_PASSWORD").write_text("pw")
    env = {k: v for k, v in MINIMAL.items() if k != "FRESHSALES_API_KEY"}
    settings = Settings.from_env({**env, "SECRETS_DIR": str(tmp_path)})
    assert settings.freshsales_api_key == SecretStr("from-file")
    assert settings.kafka_sasl_password == SecretStr("pw")
    # the environment wins over the file
    settings = Settings.from_env({**MINIMAL}, secrets_dir=tmp_path)
    assert settings.freshsales_api_key.get_secret_value() == "k-123"


def test_a_secret_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "FRESHSALES_API_KEY").mkdir()
    env = {k: v for k, v in MINIMAL.items() if k != "FRESHSALES_API_KEY"}
    with pytest.raises(ConfigurationError, match="FRESHSALES_API_KEY: cannot read"):
        Settings.from_env(env, secrets_dir=tmp_path)


def test_every_setting_has_a_distinct_variable_and_help() -> None:
    specs = Settings.specs()
    assert len({s.variable for s in specs}) == len(specs)
    assert all(s.help for s in specs)


def test_the_readme_configuration_table_lists_exactly_the_settings() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Configuration (`run`)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {
        name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])
    }
    assert documented == {spec.variable for spec in Settings.specs()}


SECRETS = {"FRESHSALES_API_KEY": "key-s3cr3t", "KAFKA_SASL_PASSWORD": "pw-s3cr3t"}


def _problems(env: dict[str, str], secrets_dir: Path | None = None) -> list[str]:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env, secrets_dir)
    header, *lines = str(caught.value).split("\n")
    assert header == "invalid configuration:"
    assert all(line.startswith("  ") for line in lines)
    return [line.strip() for line in lines]


def test_a_secret_shows_in_no_repr_and_no_error(tmp_path: Path) -> None:
    env = {**MINIMAL, **SECRETS, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"}
    settings = Settings.from_env(env)
    assert settings.kafka_sasl_password == SecretStr("pw-s3cr3t")
    for shown in (repr(settings), str(settings), f"{settings.freshsales_api_key}"):
        assert "s3cr3t" not in shown
    # Whatever else is wrong, the secrets given beside it are never quoted.
    assert "s3cr3t" not in "\n".join(_problems({**env, "MAX_IN_FLIGHT": "x"}))
    (tmp_path / "KAFKA_SASL_PASSWORD").write_bytes(b"\xffpw-s3cr3t")
    env = {k: v for k, v in env.items() if k != "KAFKA_SASL_PASSWORD"}
    assert _problems(env, tmp_path) == [
        "KAFKA_SASL_PASSWORD: cannot read the mounted secret (not UTF-8 text)"
    ]


def test_the_message_is_ours_not_pydantics() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({**MINIMAL, "MAX_IN_FLIGHT": "0", "FRESHSALES_QUOTA_SHARE": "x"})
    message = str(caught.value)
    assert message == (
        "invalid configuration:\n"
        "  FRESHSALES_QUOTA_SHARE: expected a number, got 'x'\n"
        "  MAX_IN_FLIGHT: must be between 1 and 1024, got 0"
    )
    for noise in ("pydantic", "input_value", "input_type", "Value error", "validation error"):
        assert noise not in message
    # Nor in a traceback: pydantic's report is not chained to ours.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_the_checks_across_settings_are_reported_together_one_a_line() -> None:
    problems = _problems(
        {
            **MINIMAL,
            "FRESHSALES_DOMAIN": "",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "5000",
            "KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
            "KAFKA_DLQ_TOPIC": "segment-events",
            "KAFKA_LEDGER_TOPIC": "segment-events",
        }
    )
    assert problems == [
        "FRESHSALES_DOMAIN is required (or FRESHSALES_BASE_URL)",
        "KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of KAFKA_SESSION_TIMEOUT_MS",
        "KAFKA_SASL_USERNAME is required with a SASL security protocol",
        "KAFKA_DLQ_TOPIC must differ from KAFKA_TOPIC",
        "KAFKA_LEDGER_TOPIC must differ from KAFKA_TOPIC and the DLQ topic",
    ]


def test_a_required_setting_says_what_it_is_for() -> None:
    assert _problems({}) == [
        "KAFKA_BOOTSTRAP_SERVERS is required (Kafka brokers, comma-separated)",
        "FRESHSALES_API_KEY is required (API key (secret))",
        "FRESHSALES_DOMAIN is required (or FRESHSALES_BASE_URL)",
    ]


def test_the_secrets_directory_holds_secrets_only_and_may_be_missing(tmp_path: Path) -> None:
    (tmp_path / "KAFKA_TOPIC").write_text("from-a-file")
    settings = Settings.from_env(MINIMAL, tmp_path)
    assert settings.kafka_topic == "segment-events"
    # Not mounted (yet): no error and no warning (pytest turns warnings into errors).
    settings = Settings.from_env({**MINIMAL, "SECRETS_DIR": str(tmp_path / "absent")})
    assert settings.freshsales_api_key.get_secret_value() == "k-123"


def test_a_variable_set_even_empty_hides_its_secret_file(tmp_path: Path) -> None:
    # deploy/kubernetes/base/config.env keeps the secrets out of the ConfigMap for this reason.
    (tmp_path / "FRESHSALES_API_KEY").write_text("from-file")
    assert "FRESHSALES_API_KEY is required (API key (secret))" in _problems(
        {**MINIMAL, "FRESHSALES_API_KEY": ""}, tmp_path
    )


def test_variable_names_are_matched_exactly() -> None:
    env = {k: v for k, v in MINIMAL.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    problems = _problems({**env, "kafka_bootstrap_servers": "k:1", "max_in_flight": "0"})
    assert problems == ["KAFKA_BOOTSTRAP_SERVERS is required (Kafka brokers, comma-separated)"]


def test_the_specs_come_from_the_fields() -> None:
    specs = {s.variable: s for s in Settings.specs()}
    assert {v for v, s in specs.items() if s.secret} == set(SECRETS)
    assert {v for v, s in specs.items() if s.default is REQUIRED} == {
        "KAFKA_BOOTSTRAP_SERVERS",
        "FRESHSALES_API_KEY",
    }
    assert (specs["MAX_IN_FLIGHT"].default, specs["MAX_IN_FLIGHT"].help) == (
        16,
        "concurrent deliveries",
    )


def test_settings_built_directly_read_the_process_environment_by_the_same_rules(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for spec in Settings.specs():
        monkeypatch.delenv(spec.variable, raising=False)
    (tmp_path / "FRESHSALES_API_KEY").write_text("key-s3cr3t")
    for variable, value in {**MINIMAL, "SECRETS_DIR": str(tmp_path), "MAX_IN_FLIGHT": " "}.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("FRESHSALES_API_KEY")
    settings = Settings()
    assert settings.freshsales_api_key.get_secret_value() == "key-s3cr3t"
    assert settings.max_in_flight == 16
    assert settings == Settings.from_env()
    with pytest.raises(ValidationError, match="frozen"):
        settings.max_in_flight = 1  # type: ignore[misc]
    monkeypatch.setenv("KAFKA_DLQ_TOPIC", "segment-events")
    with pytest.raises(ValidationError, match="KAFKA_DLQ_TOPIC must differ") as caught:
        Settings()
    assert "s3cr3t" not in str(caught.value)


def test_a_complaint_of_pydantics_own_names_the_variable_and_not_the_value() -> None:
    # Not reachable from text (every parser answers for itself), but the wording must hold.
    values = {**MINIMAL, "HTTP_PORT": ["key-s3cr3t"]}
    with pytest.raises(ValidationError) as caught:
        Settings(_build_sources=((InitSettingsSource(Settings, values),), {}))
    assert problem_lines(caught.value, {}) == ["HTTP_PORT: Input should be a valid integer"]


def test_event_filters_and_page_events_drop_make_one_filter() -> None:
    env = {
        **MINIMAL,
        "EVENTS_INCLUDE": "identify,group,screen,page,track:Email *",
        "EVENTS_EXCLUDE": "page:Admin*",
    }
    events = Settings.from_env(env).event_filter
    assert events.admits("track", {"event": "Email Opened"})
    assert not events.admits("track", {"event": "Order Completed"})
    assert not events.admits("page", {"name": "Admin Console"})
    assert events.admits("page", {"name": "Pricing"})
    dropped = Settings.from_env({**env, "PAGE_EVENTS": "drop"}).event_filter
    assert not dropped.admits("page", {"name": "Pricing"})  # PAGE_EVENTS=drop: page excluded
    assert Settings.from_env(MINIMAL).event_filter.everything


def test_unreadable_filters_and_fields_are_refused_naming_the_variable() -> None:
    env = {
        **MINIMAL,
        "EVENTS_INCLUDE": "tracks:Order*",
        "EVENTS_EXCLUDE": "page:",
        "FRESHSALES_GROUP_ID_FIELD": "groupId",
    }
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert "EVENTS_INCLUDE: 'tracks:Order*': unknown type 'tracks'" in message
    assert "EVENTS_EXCLUDE: 'page:': no name after ':'" in message
    assert "FRESHSALES_GROUP_ID_FIELD: expected a custom field's internal name" in message
    with pytest.raises(ConfigurationError, match="EVENTS_INCLUDE: names no pattern"):
        Settings.from_env({**MINIMAL, "EVENTS_INCLUDE": " , "})


def test_screen_type_and_group_id_field_are_read_as_given() -> None:
    env = {
        **MINIMAL,
        "FRESHSALES_SCREEN_ACTIVITY_TYPE": "Screen View",
        "FRESHSALES_GROUP_ID_FIELD": "cf_segment_group",
    }
    settings = Settings.from_env(env)
    assert (settings.screen_activity_type, settings.group_id_field) == (
        "Screen View",
        "cf_segment_group",
    )
    assert (Settings.from_env(MINIMAL).screen_activity_type, settings.events_exclude) == ("", ())
