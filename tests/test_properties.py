"""Property: whatever arrives, translation returns requests or raises the one documented error.

Three generators: any JSON value, Segment-shaped events (every type, group and screen included)
whose fields hold any JSON value (so the deep rules are reached), and raw bytes; options with
and without event filters. For every successful translation the requests must also carry out
cleanly: each one a delivery would send (``needless`` says which), materialized with the records
and lookups a delivery would have, encodes as JSON.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from translate import (
    EventFilter,
    FieldCatalog,
    Flavor,
    LookupKind,
    Options,
    Outcome,
    Reason,
    Step,
    Translation,
    TranslationError,
    materialize,
    needless,
    parse_patterns,
    translate_bytes,
    translate_event,
)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
TRAIT_KEYS = st.sampled_from(
    [
        "email",
        "fsContact",
        "fs_contact",
        "firstName",
        "first_name",
        "lastName",
        "last_name",
        "name",
        "title",
        "phone",
        "address",
        "company",
        "deal",
        "cfAlternateNumber",
        "cf_score",
        "mobileNumber",
        "ownerId",
        "lifecycleStageId",
        "tags",
        "id",
        "emails",
        "favoriteColor",
        "street",
        "city",
        "postalCode",
        "employees",
        "amount",
        "expectedClose",
        "website",
        "industry",
        "industryTypeId",
        "annualRevenue",
        "cfTier",
        "plan",
    ]
) | st.text(max_size=12)
SHAPED_OBJECTS = st.dictionaries(
    TRAIT_KEYS, JSON_VALUES | st.dictionaries(TRAIT_KEYS, JSON_VALUES, max_size=4), max_size=8
)
EMAILS = st.sampled_from(["ada@example.com", " ada@example.com ", "not-an-email", "", "a@b"])
EVENTS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["identify", "track", "page", "screen", "group", "Identify", "Group", "", "x"]
        )
        | JSON_VALUES
    },
    optional={
        "userId": st.sampled_from(["u-1", "ada@example.com", "", "  "]) | JSON_VALUES,
        "groupId": st.sampled_from(["grp-1", ""]) | JSON_VALUES,
        "anonymousId": st.sampled_from(["anon-1"]) | JSON_VALUES,
        "messageId": st.text(max_size=8) | JSON_VALUES,
        "event": st.sampled_from(["Order Completed", "Signed Up", ""]) | JSON_VALUES,
        "name": st.sampled_from(["Admin Console", "Home"]) | st.text(max_size=10) | JSON_VALUES,
        "timestamp": st.sampled_from(["2026-11-02T09:15:00Z", "2026-11-02", "nope"]) | JSON_VALUES,
        "originalTimestamp": st.sampled_from(["2026-11-02T09:15:00+02:00"]) | JSON_VALUES,
        "traits": SHAPED_OBJECTS
        | st.fixed_dictionaries({"name": st.sampled_from(["Globex", " ", "Test Co"])}).flatmap(
            lambda named: SHAPED_OBJECTS.map(lambda rest: {**rest, **named})
        )
        | JSON_VALUES,
        "properties": SHAPED_OBJECTS | JSON_VALUES,
        "context": st.fixed_dictionaries(
            {},
            optional={
                "traits": st.fixed_dictionaries(
                    {}, optional={"email": EMAILS | JSON_VALUES, "fsContact": JSON_VALUES}
                )
            },
        )
        | JSON_VALUES,
    },
)
# group and screen in the shapes their rules read, so that most get past the first checks.
GROUPS_AND_SCREENS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["group", "screen", "Group", "SCREEN"]),
        "userId": st.sampled_from(["u-1", "ada@example.com"]) | JSON_VALUES,
    },
    optional={
        "groupId": st.sampled_from(["grp-1", 42]) | JSON_VALUES,
        "name": st.sampled_from(["Dashboard", "Admin Home"]) | JSON_VALUES,
        "timestamp": st.sampled_from(["2026-11-02T09:15:00Z"]) | JSON_VALUES,
        "traits": st.fixed_dictionaries(
            {"name": st.sampled_from(["Globex", "Test Co", ""]) | JSON_VALUES},
            optional={
                "industry": st.sampled_from(["software", "Mining"]) | JSON_VALUES,
                "employees": JSON_VALUES,
                "address": SHAPED_OBJECTS | JSON_VALUES,
            },
        ).flatmap(lambda named: SHAPED_OBJECTS.map(lambda rest: {**rest, **named})),
        "properties": SHAPED_OBJECTS | JSON_VALUES,
        "context": st.fixed_dictionaries(
            {},
            optional={
                "traits": st.fixed_dictionaries(
                    {}, optional={"email": EMAILS | JSON_VALUES, "fsContact": JSON_VALUES}
                )
            },
        ),
    },
)
FIELD_TYPES = st.sampled_from(["text", "number", "checkbox", "date", "dropdown", "tags", "weird"])
CATALOGS = st.none() | st.dictionaries(
    st.sampled_from(["contacts", "leads", "sales_accounts", "deals"]),
    st.lists(
        st.fixed_dictionaries(
            {
                "name": st.sampled_from(
                    ["cf_alternate_number", "cf_score", "first_name", "amount", "name", "website"]
                ),
                "type": FIELD_TYPES,
            }
        ),
        max_size=5,
    ),
)
FILTERS = st.sampled_from(
    [
        EventFilter(),
        EventFilter(
            parse_patterns("identify,group,screen,page,track:Email *"),
            parse_patterns("page:Admin*"),
        ),
        EventFilter(exclude=parse_patterns("group:test*,*:Home")),
    ]
)
OPTIONS = st.builds(
    lambda flavor, catalog, stages, pages, industries, group_id, screen, events: Options(
        flavor=flavor,
        catalog=None if catalog is None else FieldCatalog.from_json(catalog),
        stage_map=stages,
        deliver_pages=pages,
        industry_types=industries,
        group_id_field=group_id,
        screen_activity_type=screen,
        events=events,
    ),
    st.sampled_from(list(Flavor)),
    CATALOGS,
    st.sampled_from([{}, {"Order Completed": "Customer"}]),
    st.booleans(),
    st.sampled_from([None, (), ("Software", "Retail")]),
    st.sampled_from([None, "cf_group_id"]),
    st.sampled_from([None, "Screen View"]),
    FILTERS,
)

RECORDS: dict[Step, dict[str, Any]] = {
    Step.ACCOUNT: {"id": 1},
    Step.PERSON: {
        "id": 2,
        "owner_id": None,
        "targetable_type": "Contact",
        "sales_accounts": ((5, True),),
    },
    Step.DEAL: {"id": 3},
}
LOOKUPS = {
    (LookupKind.LIFECYCLE_STAGE, "Lead"): 10,
    (LookupKind.LIFECYCLE_STAGE, "Customer"): 11,
    (LookupKind.SALES_ACTIVITY_TYPE, "Segment Event"): 20,
    (LookupKind.SALES_ACTIVITY_TYPE, "Page View"): 21,
    (LookupKind.SALES_ACTIVITY_TYPE, "Screen View"): 22,
    (LookupKind.DEFAULT_OWNER, ""): 30,
    (LookupKind.INDUSTRY_TYPE, "Software"): 40,
}


def _check(result: Translation) -> None:
    assert isinstance(result, Translation)
    assert (result.outcome is Outcome.DELIVER) == bool(result.requests)
    for request in result.requests:
        if needless(request, RECORDS) is not None:
            continue
        path, body = materialize(request, RECORDS, LOOKUPS)
        assert "{" not in path
        orjson.dumps(body)  # raises if anything is not JSON


def _attempt(call: Any) -> None:
    try:
        result = call()
    except TranslationError as error:
        reason = error.reason
    else:
        _check(result)
        return
    assert isinstance(reason, Reason)


@given(JSON_VALUES, OPTIONS)
def test_any_json_value_translates_or_raises_the_documented_error(
    value: Any, options: Options
) -> None:
    _attempt(lambda: translate_event(value, options))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS, OPTIONS)
def test_segment_shaped_events_translate_or_raise_the_documented_error(
    event: dict[str, Any], options: Options
) -> None:
    _attempt(lambda: translate_event(event, options))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(GROUPS_AND_SCREENS, OPTIONS)
def test_group_and_screen_events_translate_or_raise_the_documented_error(
    event: dict[str, Any], options: Options
) -> None:
    _attempt(lambda: translate_event(event, options))


@given(st.binary(max_size=200) | JSON_VALUES.map(orjson.dumps), OPTIONS)
def test_any_bytes_translate_or_raise_the_documented_error(raw: bytes, options: Options) -> None:
    _attempt(lambda: translate_bytes(raw, options))
