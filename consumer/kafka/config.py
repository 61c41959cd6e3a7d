"""Settings → aiokafka keyword arguments, for the source consumer and the dead-letter producer."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from consumer import __version__
from consumer.settings import Settings

CLIENT_ID = f"freshsales-destination/{__version__}"


def connection(s: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap_servers": s.kafka_bootstrap_servers,
        "client_id": CLIENT_ID,
        "security_protocol": s.kafka_security_protocol,
    }
    if s.kafka_security_protocol in ("SSL", "SASL_SSL"):
        config["ssl_context"] = create_ssl_context(cafile=s.kafka_ssl_cafile or None)
    if s.kafka_security_protocol.startswith("SASL"):
        config["sasl_mechanism"] = s.kafka_sasl_mechanism
        config["sasl_plain_username"] = s.kafka_sasl_username
        password = s.kafka_sasl_password
        config["sasl_plain_password"] = password.get_secret_value() if password else ""
    return config


def consumer_config(s: Settings) -> dict[str, Any]:
    return {
        **connection(s),
        "group_id": s.kafka_group_id,
        # Offsets are committed by the service, only for finished events.
        "enable_auto_commit": False,
        # A new group starts at the beginning: a first deployment must not skip queued events.
        "auto_offset_reset": "earliest",
        "session_timeout_ms": s.kafka_session_timeout_ms,
        "heartbeat_interval_ms": s.kafka_heartbeat_interval_ms,
        "max_partition_fetch_bytes": 1024 * 1024,
    }


def producer_config(s: Settings) -> dict[str, Any]:
    # acks=all: a dead letter is the only copy once its offset is committed. Idempotence stays
    # off: the embedded test broker cannot initialise an idempotent producer. No linger: ledger
    # writes sit between an activity's delivery and its commit, the window a crash can repeat
    # it in (concurrent writes still share a request).
    return {**connection(s), "acks": "all", "enable_idempotence": False, "linger_ms": 0}
