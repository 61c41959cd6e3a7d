"""Rule 2: ``Token token=<key>`` exactly; a limited key meets 403 beyond its rights."""

from __future__ import annotations

import pytest

from tests.simulator.conftest import KEY, Api, MakeApi


async def test_the_token_scheme_with_the_configured_key_is_accepted(api: Api) -> None:
    answer = await api.get("selector/owners", headers={"Authorization": f"Token token={KEY}"})

    assert answer.status == 200


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Authorization header missing: Token token=<API key>"),
        ({"Authorization": f"Bearer {KEY}"}, "Authorization must be: Token token=<API key>"),
        ({"Authorization": KEY}, "Authorization must be: Token token=<API key>"),
        ({"Authorization": f"Token {KEY}"}, "Authorization must be: Token token=<API key>"),
        ({"Authorization": f"token token={KEY}"}, "Authorization must be: Token token=<API key>"),
        ({"Authorization": "Token token=wrong-key"}, "Incorrect or expired API key"),
    ],
    ids=["missing", "bearer", "bare-key", "no-token-param", "lowercase-scheme", "unknown-key"],
)
async def test_anything_but_the_exact_token_scheme_and_a_known_key_is_a_401(
    api: Api, headers: dict[str, str], message: str
) -> None:
    answer = await api.get("selector/owners", headers=headers)

    assert answer.status == 401
    assert answer.errors == [message]
    assert answer.headers["WWW-Authenticate"] == 'Token realm="Application"'


async def test_a_limited_key_touching_a_forbidden_module_is_a_403(make_api: MakeApi) -> None:
    api = await make_api(limited_keys={"reader-key": frozenset({"contacts", "selector"})})
    limited = {"Authorization": "Token token=reader-key"}

    denied = await api.get("selector/owners", headers=limited)
    denied_fields = await api.get("settings/contacts/fields", headers=limited)
    allowed = await api.get("settings/deals/fields", headers=limited)

    assert (denied.status, denied.errors) == (403, ["This API key has no access to selector"])
    assert (denied_fields.status, denied_fields.errors) == (
        403,
        ["This API key has no access to contacts"],
    )
    assert allowed.status == 200
    assert (await api.get("selector/owners")).status == 200  # the main key keeps every right


async def test_a_rejected_key_is_not_charged_to_the_account(make_api: MakeApi) -> None:
    api = await make_api(per_minute=1)

    for _ in range(3):
        assert (await api.get("selector/owners", headers={})).status == 401

    assert (await api.get("selector/owners")).status == 200
