"""Running one golden case: the file's options and event through the public translation API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from translate import (
    EventFilter,
    FieldCatalog,
    Flavor,
    Options,
    TranslationError,
    error_json,
    parse_patterns,
    translate_bytes,
    translate_event,
    translation_json,
)


def options_of(spec: dict[str, Any]) -> Options:
    catalog = spec.get("catalog")
    industries = spec.get("industry_types")
    return Options(
        flavor=Flavor(spec.get("flavor", "suite")),
        catalog=FieldCatalog.from_json(catalog) if catalog is not None else None,
        track_activity_type=spec.get("track_activity_type", "Segment Event"),
        page_activity_type=spec.get("page_activity_type", "Page View"),
        lead_stage=spec.get("lead_stage", "Lead"),
        stage_map=spec.get("stage_map", {}),
        deliver_pages=spec.get("deliver_pages", True),
        screen_activity_type=spec.get("screen_activity_type"),
        group_id_field=spec.get("group_id_field"),
        industry_types=tuple(industries) if industries is not None else None,
        events=EventFilter(
            parse_patterns(spec.get("include", "*")), parse_patterns(spec.get("exclude", ""))
        ),
    )


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    spec = case["options"]
    options = options_of(spec)
    fallback = spec.get("fallback_time")
    moment = datetime.fromisoformat(fallback) if fallback else None
    try:
        if "event" in case:
            result = translate_event(case["event"], options, fallback_time=moment)
        else:
            raw = bytes.fromhex(case["raw_hex"]) if "raw_hex" in case else case["raw"]
            result = translate_bytes(raw, options, fallback_time=moment)
    except TranslationError as error:
        return error_json(error)
    return translation_json(result)
