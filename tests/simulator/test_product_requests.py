"""The simulator accepts every request the product sends for the bundled samples, once filled in.

The product's own translation runs on the sample events; each request is decided and completed
the way the delivery engine does (translate.needless and translate.materialize, with a person
remembered by userId, ids from earlier answers and the account's selectors) and sent. Nothing
may come back other than a success.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.demo import sample_lines
from tests.simulator.conftest import Api
from translate import (
    FieldCatalog,
    Flavor,
    LookupKind,
    Options,
    Outcome,
    Step,
    TranslationError,
    materialize,
    needless,
    step_record,
    translate_bytes,
)

FALLBACK = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


async def lookups(api: Api, flavor: str) -> dict[tuple[LookupKind, str], int]:
    found: dict[tuple[LookupKind, str], int] = {}
    for selector, kind in [
        ("lifecycle_stages", LookupKind.LIFECYCLE_STAGE),
        ("sales_activity_types", LookupKind.SALES_ACTIVITY_TYPE),
        ("industry_types", LookupKind.INDUSTRY_TYPE),
    ]:
        for entry in (await api.get(f"selector/{selector}", flavor=flavor)).body[selector]:
            found[kind, entry["name"]] = entry["id"]
    found[LookupKind.DEFAULT_OWNER, ""] = await api.seeded("owners", flavor=flavor)
    return found


async def catalog(api: Api, flavor: str) -> FieldCatalog:
    modules = ["contacts", "sales_accounts", "deals"] + (["leads"] if flavor == "classic" else [])
    return FieldCatalog.from_json(
        {m: (await api.get(f"settings/{m}/fields", flavor=flavor)).body for m in modules}
    )


@pytest.mark.parametrize("flavor", ["suite", "classic"])
@pytest.mark.parametrize("with_catalog", [True, False], ids=["catalog", "no-catalog"])
async def test_every_sample_request_is_accepted(api: Api, flavor: str, with_catalog: bool) -> None:
    settings = await lookups(api, flavor)
    options = Options(
        flavor=Flavor(flavor),
        catalog=await catalog(api, flavor) if with_catalog else None,
        stage_map={"Order Completed": "Customer"},
        industry_types=tuple(name for kind, name in settings if kind is LookupKind.INDUSTRY_TYPE),
    )
    sent: list[tuple[str, str, int]] = []
    people: dict[str | None, Any] = {}  # the identity cache, by userId
    for line in sample_lines():
        try:
            translation = translate_bytes(line, options, fallback_time=FALLBACK)
        except TranslationError:
            continue  # the samples that are meant to dead-letter
        if translation.outcome is not Outcome.DELIVER:
            continue
        records: dict[Step, Any] = {}
        if translation.names.email is None and translation.names.user_id not in people:
            continue  # nobody known and no email: the service keeps it waiting, no call
        if translation.names.user_id in people:
            records[Step.PERSON] = people[translation.names.user_id]
        for request in translation.requests:
            if needless(request, records) is not None:
                continue
            path, body = materialize(request, records, settings)
            sent_body = None if request.method == "GET" else body
            answer = await api.call(request.method, path, sent_body, flavor=flavor)
            sent.append((request.method, path.split("/")[0], answer.status))
            assert answer.status == 200, (path, body, answer.body)
            records[request.step] = step_record(request, answer.body)
            if request.step in (Step.PERSON, Step.LINK) and translation.names.user_id is not None:
                people[translation.names.user_id] = records[request.step]

    assert len(sent) >= 12
    state = api.sim.state(flavor)
    person_module = "leads" if flavor == "classic" else "contacts"
    assert {p["email"] for p in state[person_module]} >= {
        "john.doe@example.com",
        "ada@acme.example",
    }
    accounts = {a["name"]: a for a in state["sales_accounts"]}
    assert set(accounts) >= {"Example.com", "Acme Analytics", "Globex"}
    software = await api.seeded("industry_types", "Software", flavor=flavor)
    assert accounts["Globex"]["industry_type_id"] == software
    assert accounts["Globex"]["number_of_employees"] == 250
    assert len(state["sales_activities"]) == 5
    assert "Viewed Dashboard screen" in {a["title"] for a in state["sales_activities"]}
    if flavor == "classic":
        ada_lead = next(p for p in state["leads"] if p["email"] == "ada@acme.example")
        assert ada_lead["company"]["name"] == "Globex"  # a lead has one company: the last group
    if flavor == "suite":
        ada = next(c for c in state["contacts"] if c["email"] == "ada@acme.example")
        customer = await api.seeded("lifecycle_stages", "Customer")
        assert ada["lifecycle_stage_id"] == customer
        # identify's company is primary; the groups add accounts and drop none.
        by_id = {a["id"]: a["name"] for a in state["sales_accounts"]}
        linked = {by_id[a["id"]]: a["is_primary"] for a in ada["sales_accounts"]}
        assert linked == {"Acme Analytics": True, "Globex": False}
        (deal,) = state["deals"]
        assert deal["contact_ids"]
        assert deal["sales_account_id"]
