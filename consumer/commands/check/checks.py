"""``freshsales-destination check``: will ``run`` work with this configuration? One row per check.

Kafka and Freshsales are checked at the same time, each step under its own time limit, so an
unreachable broker fails in about ``--timeout`` seconds instead of aiokafka's minute of retries.
A failed step skips only the steps that need it: a refused key still lets Kafka be checked.
Nothing is written (but the file ``--write-catalog`` names): no topic is created (only the
all-topics metadata request is used, because asking for one topic by name makes auto-creating
brokers create it), no offset is committed.

Freshsales calls are the ones the service makes at start-up, no more (the quota is 1,000 an
hour): the first selector read doubles as the key check.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson

from consumer.commands.check import account as judge
from consumer.commands.check.kafka import (
    DLQ,
    IDENTITIES,
    KAFKA,
    LEDGER,
    SOURCE,
    WAITING,
    kafka_checks,
    recent_values,
)
from consumer.commands.check.report import Report, Result, Status, output, problems_of, skipped
from consumer.errors import BrokerError, ConfigurationError, FreshsalesError
from consumer.freshsales.client import ClientOptions, FreshsalesClient
from consumer.settings import Settings
from translate import FieldCatalog, Flavor, Module

KEY: Final = "freshsales key"
CATALOG: Final = "field catalog"
FRESHSALES_ROWS: Final = (
    KEY,
    judge.ACTIVITY_TYPES,
    judge.STAGES,
    judge.OWNER,
    judge.INDUSTRIES,
    judge.CUSTOM_FIELDS,
)


@dataclass
class Calls:
    """Freshsales calls sent, answered or not: each may count against the quota."""

    count: int = 0


def main(as_json: bool, timeout_s: float, sample: int, write_catalog: Path | None = None) -> int:
    # aiokafka logs each failed connection attempt; the check reports it once, in its row.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    report = asyncio.run(
        run_checks(None, timeout_s=timeout_s, sample=sample, write_catalog=write_catalog)
    )
    sys.stdout.buffer.write(output(report, as_json=as_json))
    sys.stdout.flush()
    return report.exit_status


async def run_checks(
    env: Mapping[str, str] | None,
    *,
    timeout_s: float,
    sample: int,
    write_catalog: Path | None = None,
) -> Report:
    """Every check against the environment ``env`` (None: the process' own); with
    ``write_catalog``, the account's field catalog is written there too (its own row)."""
    started = time.monotonic()
    calls = Calls()
    try:
        s = Settings.from_env(env)
    except ConfigurationError as exc:
        rows = [
            Result("configuration", Status.FAIL, "; ".join(problems_of(str(exc)))),
            *skipped(
                (
                    KAFKA,
                    SOURCE,
                    DLQ,
                    LEDGER,
                    IDENTITIES,
                    WAITING,
                    *FRESHSALES_ROWS,
                    judge.CUSTOM_TRAITS,
                ),
                "not checked: the configuration is invalid",
            ),
        ]
        if write_catalog is not None:
            rows.append(Result(CATALOG, Status.SKIP, "not written: the configuration is invalid"))
        return Report(tuple(rows), 0, time.monotonic() - started)
    configured = Result(
        "configuration",
        Status.OK,
        f"{s.freshsales_flavor.value} at {s.api_base}; topic {s.kafka_topic!r},"
        f" group {s.kafka_group_id!r}, brokers {s.kafka_bootstrap_servers}",
    )
    kafka, (freshsales, catalog, fields) = await asyncio.gather(
        kafka_checks(s, timeout_s), _freshsales(s, timeout_s, calls)
    )
    traits = await _traits(s, kafka.source_partitions, catalog, timeout_s, sample)
    rows = [configured, *kafka.results, *freshsales, traits]
    if write_catalog is not None:
        rows.append(_write_catalog(write_catalog, fields))
    return Report(tuple(rows), calls.count, time.monotonic() - started)


Fields = dict[Module, Mapping[str, object]]
"""The field lists read, by module: a field catalog as ``translate --catalog`` reads it."""


async def _freshsales(
    s: Settings, timeout_s: float, calls: Calls
) -> tuple[list[Result], FieldCatalog | None, Fields]:
    try:
        client = FreshsalesClient(
            s.api_base,
            s.freshsales_api_key.get_secret_value(),
            ClientOptions(pool_size=1, timeout_s=timeout_s, connect_timeout_s=timeout_s),
        )
    except ConfigurationError as exc:
        return [Result(KEY, Status.FAIL, str(exc)), *_skip_after_key()], None, {}
    async with client:

        async def get(path: str) -> Mapping[str, object]:
            calls.count += 1
            return (await client.call("GET", path)).body

        try:
            owners = await get("selector/owners")
        except FreshsalesError as exc:
            return [Result(KEY, Status.FAIL, _refused(exc, s)), *_skip_after_key()], None, {}
        rows = [Result(KEY, Status.OK, f"accepted by {s.api_base}")]
        try:
            rows.append(judge.activity_types(await get("selector/sales_activity_types"), s))
        except FreshsalesError as exc:
            rows.append(Result(judge.ACTIVITY_TYPES, Status.FAIL, str(exc)))
        if s.freshsales_flavor is Flavor.SUITE:
            try:
                rows.append(judge.stages(await get("selector/lifecycle_stages"), s))
            except FreshsalesError as exc:
                rows.append(Result(judge.STAGES, Status.FAIL, str(exc)))
        else:
            rows.append(Result(judge.STAGES, Status.SKIP, "Classic has no lifecycle stages"))
        rows.append(judge.owner(owners, s))
        if judge.wants_industries(s):
            try:
                rows.append(judge.industry_types(await get("selector/industry_types"), None))
            except FreshsalesError as exc:
                rows.append(judge.industry_types(None, exc))
        else:
            rows.append(judge.industry_types(None, None))
        answers: Fields = {}
        failed: dict[Module, FreshsalesError] = {}
        problems: list[str] = []
        for module in judge.field_modules(s.freshsales_flavor):
            try:
                answers[module] = await get(f"settings/{module}/fields")
            except FreshsalesError as exc:
                failed[module] = exc
        catalog = judge.catalog_of(answers, problems)
        rows.append(judge.custom_fields(answers, catalog, failed, problems))
        return rows, catalog, answers


def _refused(exc: FreshsalesError, s: Settings) -> str:
    if exc.status == 401:
        return f"{exc} — check FRESHSALES_API_KEY"
    if exc.status == 403:
        return f"{exc} — the key's user may not read the account's settings"
    if exc.status == 404:
        # The API root itself is not there: the URL is wrong, whatever the key.
        fix = (
            "FRESHSALES_BASE_URL must end in /crm/sales/api (Suite) or /api (Classic)"
            if s.freshsales_base_url
            else "check FRESHSALES_DOMAIN and FRESHSALES_FLAVOR"
        )
        return f"no Freshsales API at {s.api_base} ({exc}): {fix}"
    return str(exc)


def _write_catalog(path: Path, fields: Fields) -> Result:
    """The account's field lists as one file, the field catalog ``translate --catalog`` reads."""
    if not fields:
        return Result(CATALOG, Status.SKIP, "not written: no field list was read")
    document = {module.value: answer for module, answer in fields.items()}
    try:
        path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    except OSError as exc:
        return Result(CATALOG, Status.FAIL, f"cannot write {path}: {exc.strerror or repr(exc)}")
    return Result(
        CATALOG,
        Status.OK,
        f"written to {path} ({', '.join(document)}): translate --catalog {path}",
    )


def _skip_after_key() -> list[Result]:
    return skipped(FRESHSALES_ROWS[1:], "not checked: the key check failed")


async def _traits(
    s: Settings,
    partitions: tuple[int, ...],
    catalog: FieldCatalog | None,
    timeout_s: float,
    sample: int,
) -> Result:
    name = judge.CUSTOM_TRAITS
    if sample == 0:
        return Result(name, Status.SKIP, "not checked: --sample 0")
    if not partitions:
        return Result(name, Status.SKIP, "not checked: the source topic is not available")
    if catalog is None:
        return Result(name, Status.SKIP, "not checked: no field catalog (see custom fields)")
    try:
        found = await recent_values(s, partitions, sample, timeout_s)
    except (TimeoutError, BrokerError) as exc:
        return Result(name, Status.FAIL, f"cannot read the source topic: {exc!r}")
    return judge.custom_traits(found.values, judge.options_for(s, catalog), found.unread)
