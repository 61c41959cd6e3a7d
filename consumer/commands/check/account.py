"""``check``: what the Freshsales account's answers say about the configuration, as pure functions.

Names are resolved by ``consumer.account.resolve``, the very function the service resolves them
with at start-up, one configured name at a time so that each missing name is reported with the
variable that holds it. Custom fields are judged by translate's own rules (FieldCatalog and the
camelCase → snake_case trait rule), so what this reports is what translation will do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from consumer.commands.check.report import Result, Status
from consumer.errors import ConfigurationError
from consumer.freshsales.account import WITHOUT_INDUSTRIES, Wanted, resolve, without_fields
from consumer.freshsales.reading import Verdict, verdict
from consumer.settings import Settings
from translate import (
    CatalogError,
    DestinationError,
    FieldCatalog,
    FieldType,
    Flavor,
    LookupKind,
    Module,
    Options,
    TranslationError,
    translate_bytes,
)
from translate.fields import snake_case

ACTIVITY_TYPES: Final = "activity types"
STAGES: Final = "lifecycle stages"
INDUSTRIES: Final = "industry types"
OWNER: Final = "default owner"
CUSTOM_FIELDS: Final = "custom fields"
CUSTOM_TRAITS: Final = "custom traits"
SHOWN: Final = 10
"""At most this many names per list in a detail; the rest are counted."""
# Track/page events of the sample need a time to translate; their fields are not what we look at.
_ANY_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
_OWNER_KEY: Final = (LookupKind.DEFAULT_OWNER, "")
_NO_NAMES: Final = Wanted(Flavor.CLASSIC, (), ())


def field_modules(flavor: Flavor) -> tuple[Module, ...]:
    """The modules whose field catalog the service reads at start-up (consumer/account.py)."""
    if flavor is Flavor.CLASSIC:
        return (Module.CONTACTS, Module.LEADS, Module.SALES_ACCOUNTS, Module.DEALS)
    return (Module.CONTACTS, Module.SALES_ACCOUNTS, Module.DEALS)


def activity_types(answer: Mapping[str, object], s: Settings) -> Result:
    named = [
        ("FRESHSALES_TRACK_ACTIVITY_TYPE", s.track_activity_type),
        ("FRESHSALES_PAGE_ACTIVITY_TYPE", s.page_activity_type),
    ]
    if s.screen_activity_type:
        named.append(("FRESHSALES_SCREEN_ACTIVITY_TYPE", s.screen_activity_type))
    return _names(
        ACTIVITY_TYPES,
        {"sales_activity_types": answer},
        [(v, n, Wanted(s.freshsales_flavor, (n,), ())) for v, n in named],
        LookupKind.SALES_ACTIVITY_TYPE,
    )


def stages(answer: Mapping[str, object], s: Settings) -> Result:
    named = [("FRESHSALES_LEAD_STAGE", s.lead_stage)]
    named += [("FRESHSALES_STAGE_MAP", stage) for stage in dict.fromkeys(s.stage_map.values())]
    return _names(
        STAGES,
        {"lifecycle_stages": answer},
        [(v, n, Wanted(s.freshsales_flavor, (), (n,))) for v, n in named],
        LookupKind.LIFECYCLE_STAGE,
    )


def _names(
    check: str,
    answers: Mapping[str, Mapping[str, object]],
    wanted: Sequence[tuple[str, str, Wanted]],
    kind: LookupKind,
) -> Result:
    found: list[str] = []
    missing: list[str] = []
    for variable, name, one in wanted:
        try:
            ident = resolve(answers, one)[(kind, name)]
        except ConfigurationError as exc:
            # resolve() says "<what is lacking>: <name> (have: …)"; keep the part after the colon.
            missing.append(f"{variable} names a missing {str(exc).partition(': ')[2] or exc}")
            continue
        found.append(f"{name!r} = id {ident}")
    if missing:
        return Result(check, Status.FAIL, "; ".join(missing))
    return Result(check, Status.OK, ", ".join(found))


def wants_industries(s: Settings) -> bool:
    """Whether the service reads the industry types at start-up (as consumer/service.py decides)."""
    events = s.event_filter
    return events.may_admit("group") or events.may_admit("identify")


def unread(error: DestinationError, meaning: str) -> tuple[Status, str]:
    """What the service does when an optional read fails as ``error`` (the same verdict,
    ``consumer.freshsales.reading``): ``meaning``, what running without it means."""
    kind = verdict(error, optional=True)
    if kind is Verdict.WITHOUT:
        return Status.WARN, f"refused for good, the service runs without it ({meaning}): {error}"
    if kind is Verdict.RETRY:
        return (
            Status.WARN,
            f"unreadable for now, the service retries it and delivers nothing until it is read:"
            f" {error}",
        )
    return Status.FAIL, f"refused, the service stops delivering until the key may read it: {error}"


def industry_types(answer: Mapping[str, object] | None, failed: DestinationError | None) -> Result:
    """The account's industry types, as the service reads them: events name them, the account
    upsert sends their id. Unreadable: what the service would do about it."""
    if answer is None:
        if failed is None:
            return Result(INDUSTRIES, Status.SKIP, "not read: the event filters drop every account")
        return Result(INDUSTRIES, *unread(failed, WITHOUT_INDUSTRIES))
    lookups = resolve({"industry_types": answer}, _NO_NAMES)
    found = sorted(name for kind, name in lookups if kind is LookupKind.INDUSTRY_TYPE)
    if not found:
        return Result(
            INDUSTRIES, Status.WARN, "the account has none: every industry trait is dropped"
        )
    return Result(INDUSTRIES, Status.OK, f"{len(found)}: {_some(found)}")


def owner(answer: Mapping[str, object], s: Settings) -> Result:
    answers = {"owners": answer}
    # With no owner configured, resolve() names the account's first user, if it lists any.
    first = resolve(answers, Wanted(s.freshsales_flavor, (), ())).get(_OWNER_KEY)
    configured = s.default_owner_id
    if configured is None:
        if first is None:
            return Result(
                OWNER,
                Status.WARN,
                "the account lists no users and FRESHSALES_DEFAULT_OWNER_ID is not set: activities"
                " of people without an owner would be dead-lettered (unresolved_reference)",
            )
        return Result(
            OWNER, Status.OK, f"FRESHSALES_DEFAULT_OWNER_ID not set: the first user, id {first}"
        )
    try:
        resolve(answers, Wanted(s.freshsales_flavor, (), (), configured))
    except ConfigurationError:
        return Result(
            OWNER,
            Status.FAIL,
            f"FRESHSALES_DEFAULT_OWNER_ID: {configured} is not a user of the account",
        )
    if first is None:
        return Result(
            OWNER,
            Status.WARN,
            f"the account lists no users: FRESHSALES_DEFAULT_OWNER_ID {configured} unconfirmed",
        )
    return Result(OWNER, Status.OK, f"FRESHSALES_DEFAULT_OWNER_ID {configured} is a user")


def catalog_of(
    answers: Mapping[Module, Mapping[str, object]], problems: list[str]
) -> FieldCatalog | None:
    """The catalog the service would build from these answers (None: none could be read)."""
    if not answers:
        return None
    try:
        return FieldCatalog.from_json({m.value: a for m, a in answers.items()})
    except CatalogError as exc:
        problems.append(str(exc))
        return None


def custom_fields(
    answers: Mapping[Module, Mapping[str, object]],
    catalog: FieldCatalog | None,
    failed: Mapping[Module, DestinationError],
    problems: Sequence[str] = (),
) -> Result:
    """The account's ``cf_`` fields that translation cannot use as Freshsales means them.

    - *unknown type*: a Freshsales type FieldCatalog does not know (it becomes ``any``): values
      go out uncoerced, and one of the wrong type makes Freshsales reject the whole request.
    - *unreachable*: no trait can name the field, because the trait rule (camelCase →
      snake_case) only yields lower-case ``[a-z][a-z0-9_]*`` names; a trait meant for it is
      ignored.
    - a module whose fields could not be read: what the service would do (``unread``).
    - ``problems``: why no catalog could be built of what was read (custom traits go unchecked).
    """
    counts: dict[str, int] = {}
    unknown: list[str] = []
    unreachable: list[str] = []
    for module, answer in answers.items():
        known = catalog.fields(module) if catalog is not None else None
        entries = answer.get("fields")
        for entry in entries if isinstance(entries, list) else []:
            name = entry.get("name") if isinstance(entry, Mapping) else None
            if not isinstance(name, str) or not name.startswith("cf_"):
                continue
            counts[module.value] = counts.get(module.value, 0) + 1
            if snake_case(name) != name:
                unreachable.append(f"{module}.{name}")
            if known is not None and known.get(name) is FieldType.ANY:
                unknown.append(f"{module}.{name} ({entry.get('type')!r})")
    judged = [unread(error, without_fields(module)) for module, error in failed.items()]
    notes = [note for _, note in judged]
    notes += [f"no field catalog, custom traits go unchecked: {p}" for p in problems]
    if unknown:
        notes.append(f"type unknown to the field catalog, sent uncoerced: {_some(unknown)}")
    if unreachable:
        notes.append(f"no trait can reach (not lower-case snake_case): {_some(unreachable)}")
    read = ", ".join(f"{module} {n}" for module, n in counts.items()) or "none"
    if notes:
        worst = Status.FAIL if any(s is Status.FAIL for s, _ in judged) else Status.WARN
        return Result(CUSTOM_FIELDS, worst, f"{read}; " + "; ".join(notes))
    return Result(CUSTOM_FIELDS, Status.OK, f"{read}; all reachable from traits, types known")


def options_for(s: Settings, catalog: FieldCatalog | None) -> Options:
    """Translation options as the service builds them once the account is read (but for the
    industry types, which the custom traits check does not look at)."""
    return Options(
        flavor=s.freshsales_flavor,
        catalog=catalog,
        track_activity_type=s.track_activity_type,
        page_activity_type=s.page_activity_type,
        lead_stage=s.lead_stage,
        stage_map=dict(s.stage_map),
        deliver_pages=s.page_events == "deliver",
        screen_activity_type=s.screen_activity_type or None,
        group_id_field=s.group_id_field or None,
        events=s.event_filter,
    )


def custom_traits(values: Iterable[bytes], options: Options, unread: Sequence[int] = ()) -> Result:
    """Custom traits of sampled events that translation would drop as unknown custom fields.
    ``unread``: partitions the sample did not reach the end of in time (what they hold is not
    known: an empty sample is then no evidence)."""
    events = 0
    ignored: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    for value in values:
        events += 1
        try:
            translation = translate_bytes(value, options, fallback_time=_ANY_TIME)
        except TranslationError:
            continue  # dead-lettered by the service; not a custom-field matter
        for notice in translation.notices:
            if notice.code == "unknown_custom_field":
                ignored[notice.field] += 1
                reasons.setdefault(notice.field, notice.detail.partition(";")[0])
    late = f"partition(s) {', '.join(map(str, unread))} not read within --timeout" if unread else ""
    if not events:
        if late:
            return Result(CUSTOM_TRAITS, Status.SKIP, f"not checked: {late}")
        return Result(CUSTOM_TRAITS, Status.OK, "the source topic holds no events to sample")
    late = f"; {late}" if late else ""
    if not ignored:
        return Result(
            CUSTOM_TRAITS, Status.OK, f"none ignored in the {events} most recent events{late}"
        )
    shown = [f"{trait} {n}x ({reasons[trait]})" for trait, n in ignored.most_common()]
    return Result(
        CUSTOM_TRAITS,
        Status.WARN,
        f"in the {events} most recent events, {len(ignored)} custom trait"
        f"{'' if len(ignored) == 1 else 's'} would be ignored: {_some(shown)}{late}",
    )


def _some(items: Sequence[str]) -> str:
    more = len(items) - SHOWN
    return ", ".join(items[:SHOWN]) + (f" and {more} more" if more > 0 else "")
