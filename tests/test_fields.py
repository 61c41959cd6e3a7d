"""Field names, the field catalog, and lossless coercion."""

from __future__ import annotations

import pytest

from translate import CatalogError, FieldCatalog, FieldType, Module
from translate.fields import FAIL, coerce, snake_case


@pytest.mark.parametrize(
    ("trait", "field"),
    [
        ("cfAlternateNumber", "cf_alternate_number"),
        ("mobileNumber", "mobile_number"),
        ("first_name", "first_name"),
        ("HTTPServerName", "http_server_name"),
        ("cfField2", "cf_field2"),
        ("jobTitle", "job_title"),
        ("cf_", None),
        ("Favorite Color", None),
        ("", None),
        ("2fast", None),
    ],
)
def test_trait_names_become_snake_case_field_names(trait: str, field: str | None) -> None:
    assert snake_case(trait) == field


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("Ada", FieldType.TEXT, "Ada"),
        (98765432, FieldType.TEXT, "98765432"),
        (1.5, FieldType.TEXT, "1.5"),
        (True, FieldType.TEXT, FAIL),
        ({"a": 1}, FieldType.TEXT, FAIL),
        (42, FieldType.NUMBER, 42),
        (2**63, FieldType.NUMBER, FAIL),
        (-(2**63) - 1, FieldType.NUMBER, FAIL),
        (2.5, FieldType.NUMBER, 2.5),
        (float("nan"), FieldType.NUMBER, FAIL),
        (float("inf"), FieldType.NUMBER, FAIL),
        (" 42 ", FieldType.NUMBER, 42),
        ("-7", FieldType.NUMBER, -7),
        ("12.50", FieldType.NUMBER, 12.5),
        ("1e3", FieldType.NUMBER, 1000.0),
        ("99999999999999999999", FieldType.NUMBER, FAIL),
        ("18446744073709551615", FieldType.NUMBER, FAIL),
        ("9223372036854775807", FieldType.NUMBER, 2**63 - 1),
        (".5", FieldType.NUMBER, 0.5),
        ("1e999", FieldType.NUMBER, FAIL),
        ("twelve", FieldType.NUMBER, FAIL),
        (True, FieldType.NUMBER, FAIL),
        ([1], FieldType.NUMBER, FAIL),
        (True, FieldType.BOOLEAN, True),
        (0, FieldType.BOOLEAN, False),
        (1, FieldType.BOOLEAN, True),
        (2, FieldType.BOOLEAN, FAIL),
        (" Yes ", FieldType.BOOLEAN, True),
        ("FALSE", FieldType.BOOLEAN, False),
        ("0", FieldType.BOOLEAN, False),
        ("maybe", FieldType.BOOLEAN, FAIL),
        (1.0, FieldType.BOOLEAN, FAIL),
        ("1815-12-10", FieldType.DATE, "1815-12-10"),
        ("1815-12-10T10:00:00+01:00", FieldType.DATE, "1815-12-10"),
        ("10/12/1815", FieldType.DATE, FAIL),
        (18151210, FieldType.DATE, FAIL),
        ("vip", FieldType.LIST, ("vip",)),
        (["a", "b"], FieldType.LIST, ("a", "b")),
        (["a", 1], FieldType.LIST, FAIL),
        (7, FieldType.LIST, FAIL),
        ("x", FieldType.ANY, "x"),
        (False, FieldType.ANY, False),
        (7, FieldType.ANY, 7),
        (None, FieldType.ANY, FAIL),
        ([1], FieldType.ANY, FAIL),
    ],
)
def test_values_are_coerced_only_when_nothing_is_lost(
    value: object, kind: FieldType, expected: object
) -> None:
    assert coerce(value, kind) == expected


def test_catalog_reads_the_settings_fields_answer_per_module() -> None:
    catalog = FieldCatalog.from_json(
        {
            "contacts": {"fields": [{"name": "cf_score", "label": "Score", "type": "number"}]},
            "deals": [{"name": "cf_due", "type": "date"}, {"name": "cf_x", "type": "hologram"}],
            "leads": [{"name": "cf_y"}],
        }
    )
    assert catalog.fields(Module.CONTACTS) == {"cf_score": FieldType.NUMBER}
    assert catalog.fields(Module.DEALS) == {"cf_due": FieldType.DATE, "cf_x": FieldType.ANY}
    assert catalog.fields(Module.LEADS) == {"cf_y": FieldType.ANY}
    assert catalog.fields(Module.SALES_ACCOUNTS) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must be a JSON object"),
        ({"contact": []}, "unknown module 'contact'"),
        ({"contacts": {"fields": {}}}, "expected a list of fields"),
        ({"contacts": 3}, "expected a list of fields"),
        ({"contacts": [{"label": "no name"}]}, "needs a string 'name'"),
        ({"contacts": ["cf_x"]}, "needs a string 'name'"),
    ],
)
def test_a_malformed_catalog_is_refused_with_the_reason(value: object, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        FieldCatalog.from_json(value)
