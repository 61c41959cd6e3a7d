"""group's account: the rules golden cases do not show one by one."""

from __future__ import annotations

from typing import Any

from translate import FieldCatalog, Options, Step, translate_event

GROUP: dict[str, Any] = {"type": "group", "userId": "u-1", "traits": {"name": "Globex"}}


def account_of(event: dict[str, Any], options: Options) -> Any:
    _, account, _ = translate_event(event, options).requests
    return account.body["sales_account"]


def test_a_null_industry_is_simply_absent() -> None:
    event = {**GROUP, "traits": {"name": "Globex", "industry": None}}
    result = translate_event(event, Options(industry_types=("Software",)))
    assert dict(account_of(event, Options())) == {"name": "Globex"}
    assert (result.ignored, result.notices) == ((), ())


def test_a_group_id_field_without_a_group_id_sends_nothing() -> None:
    assert dict(account_of(GROUP, Options(group_id_field="cf_group_id"))) == {"name": "Globex"}


def test_many_industry_types_are_named_only_in_part() -> None:
    names = tuple(f"Industry {n:02d}" for n in range(12))
    event = {**GROUP, "traits": {"name": "Globex", "industry": "Aerospace"}}
    (notice,) = translate_event(event, Options(industry_types=names)).notices
    assert notice.detail.endswith("Industry 09 and 2 more)")


def test_the_name_an_upsert_finds_its_record_by_is_kept_whatever_the_catalog_types_it() -> None:
    # Found by the property test: a catalog typing the account's name as a number dropped the
    # name, and the upsert had nothing to be keyed on.
    catalog = FieldCatalog.from_json(
        {"sales_accounts": [{"name": "name", "type": "number"}], "deals": []}
    )
    options = Options(catalog=catalog)
    assert account_of(GROUP, options)["name"] == "Globex"
    identify = {
        "type": "identify",
        "userId": "u-1",
        "traits": {"email": "a@example.com", "company": "Globex", "deal": {"name": "Big"}},
    }
    bodies = {r.step: r.body for r in translate_event(identify, options).requests}
    assert bodies[Step.ACCOUNT]["unique_identifier"] == {"name": "Globex"}
    assert bodies[Step.DEAL]["unique_identifier"] == {"name": "Big"}
