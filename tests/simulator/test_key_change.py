"""A key revoked or rotated at run time, and an injected outage ended on demand."""

from __future__ import annotations

import pytest

from sandbox.simulator import Fault, Simulator, SimulatorConfig
from tests.simulator.conftest import AUTH, KEY, Api, MakeApi

NEW = {"Authorization": "Token token=rotated-key"}


async def test_after_a_key_change_the_old_key_is_refused_and_the_new_one_works(api: Api) -> None:
    api.sim.set_api_key("rotated-key")

    old = await api.get("selector/owners", headers=AUTH)
    new = await api.get("selector/owners", headers=NEW)

    assert (old.status, old.errors) == (401, ["Incorrect or expired API key"])
    assert new.status == 200
    assert api.sim.api_key == "rotated-key"


async def test_setting_the_key_back_restores_access(api: Api) -> None:
    api.sim.set_api_key("revoked")
    assert (await api.get("selector/owners")).status == 401

    api.sim.set_api_key(KEY)

    assert (await api.get("selector/owners")).status == 200


async def test_a_key_change_leaves_records_and_limited_keys_alone(make_api: MakeApi) -> None:
    api = await make_api(limited_keys={"reader-key": frozenset({"contacts"})})
    await api.person("a@b.co")

    api.sim.set_api_key("rotated-key")

    limited = await api.get(
        "settings/deals/fields", headers={"Authorization": "Token token=reader-key"}
    )
    assert limited.status == 200
    assert [c["email"] for c in api.sim.state()["contacts"]] == ["a@b.co"]


async def test_reset_brings_back_the_configured_key(api: Api) -> None:
    api.sim.set_api_key("rotated-key")

    api.sim.reset()

    assert api.sim.api_key == KEY
    assert (await api.get("selector/owners")).status == 200


@pytest.mark.parametrize("key", ["", "two words", "tab\there", "reader-key"])
def test_a_key_that_could_not_be_sent_or_is_a_limited_key_is_refused(key: str) -> None:
    sim = Simulator(SimulatorConfig(limited_keys={"reader-key": frozenset({"contacts"})}))

    with pytest.raises(ValueError, match="key"):
        sim.set_api_key(key)
    assert sim.api_key == KEY


async def test_the_key_can_be_changed_over_http(api: Api) -> None:
    changed = await api.post("/_sim/key", {"api_key": "rotated-key"}, headers={})

    assert changed.body == {"api_key": "rotated-key"}
    assert (await api.get("selector/owners", headers=AUTH)).status == 401
    assert (await api.get("selector/owners", headers=NEW)).status == 200


async def test_a_bad_key_request_is_a_400_and_changes_nothing(api: Api) -> None:
    not_json = await api.post("/_sim/key", raw=b"{", headers={})
    wrong_shape = await api.post("/_sim/key", {"key": "x"}, headers={})
    not_text = await api.post("/_sim/key", {"api_key": 7}, headers={})
    blank = await api.post("/_sim/key", {"api_key": " "}, headers={})
    wrong_method = await api.get("/_sim/key", headers={})

    assert not_json.errors == ["The request body is not valid JSON"]
    assert wrong_shape.errors == ['Expected {"api_key": "<the new key>"}']
    assert not_text.errors == ["api_key must be a string"]
    assert blank.errors == ["an API key is one or more characters without whitespace"]
    assert (wrong_method.status, wrong_method.headers["Allow"]) == (405, "POST")
    assert (await api.get("selector/owners")).status == 200


async def test_clearing_the_queued_faults_ends_an_outage(api: Api) -> None:
    api.sim.inject(Fault(status=503), times=1000)
    assert (await api.get("selector/owners")).status == 503

    cleared = api.sim.clear_faults()

    assert cleared == 999
    assert api.sim.pending_faults == 0
    assert (await api.get("selector/owners")).status == 200


async def test_queued_faults_can_be_cleared_over_http(api: Api) -> None:
    await api.post("/_sim/faults", {"status": 503, "times": 4}, headers={})

    cleared = await api.call("DELETE", "/_sim/faults", headers={})

    assert cleared.body == {"cleared": 4, "pending": 0}
    assert (await api.get("selector/owners")).status == 200
