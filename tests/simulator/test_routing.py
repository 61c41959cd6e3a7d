"""Rule 1: Suite at /crm/sales/api, Classic at /api, each its own account; leads on Classic."""

from __future__ import annotations

import pytest

from tests.simulator.conftest import Api, MakeApi


async def test_each_flavour_is_served_under_its_own_base(api: Api) -> None:
    assert (await api.get("/crm/sales/api/selector/owners")).status == 200
    assert (await api.get("/api/selector/owners")).status == 200


async def test_each_flavour_is_a_separate_account_with_its_own_records(api: Api) -> None:
    suite_id = await api.account("Acme", flavor="suite")
    classic_id = await api.account("Acme", flavor="classic")

    assert suite_id != classic_id
    assert [a["id"] for a in api.sim.state("suite")["sales_accounts"]] == [suite_id]
    assert [a["id"] for a in api.sim.state("classic")["sales_accounts"]] == [classic_id]
    missing = await api.get(f"sales_accounts/{suite_id}", flavor="classic")
    assert missing.status == 404
    assert missing.errors == [f"Sales account {suite_id} not found"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "leads"),
        ("POST", "leads/upsert"),
        ("GET", "leads/1"),
        ("GET", "settings/leads/fields"),
    ],
)
async def test_the_leads_module_does_not_exist_on_suite(api: Api, method: str, path: str) -> None:
    body = {"lead": {"emails": "a@b.co"}} if method == "POST" else None
    answer = await api.call(method, path, body, flavor="suite")

    assert answer.status == 404
    assert answer.errors == [f"No such resource: {path}"]


async def test_the_leads_module_exists_on_classic(api: Api) -> None:
    assert (await api.get("leads", flavor="classic")).status == 200
    assert (await api.get("settings/leads/fields", flavor="classic")).status == 200


async def test_an_unknown_path_anywhere_is_a_404_in_the_errors_envelope(api: Api) -> None:
    outside = await api.get("/v2/contacts")
    inside = await api.get("contacts/search/now")

    assert (outside.status, outside.errors) == (404, ["No Freshsales API at /v2/contacts"])
    assert (inside.status, inside.errors) == (404, ["No such resource: contacts/search/now"])


async def test_a_non_numeric_record_id_is_an_unknown_path(api: Api) -> None:
    answer = await api.get("contacts/abc")

    assert (answer.status, answer.errors) == (404, ["No such resource: contacts/abc"])


async def test_a_wrong_method_on_a_known_path_is_a_405_naming_the_allowed_ones(api: Api) -> None:
    answer = await api.call("PATCH", "contacts/upsert", {"contact": {}})

    assert answer.status == 405
    assert answer.errors == ["PATCH not allowed here"]
    assert answer.headers["Allow"] == "POST"


async def test_a_flavour_left_out_of_the_config_is_not_served(make_api: MakeApi) -> None:
    api = await make_api(flavors=("suite",))

    answer = await api.get("selector/owners", flavor="classic")

    assert (answer.status, answer.errors) == (404, ["No Freshsales API at /api/selector/owners"])
    with pytest.raises(ValueError, match="no 'classic' account"):
        api.sim.state("classic")
