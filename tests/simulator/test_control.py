"""Rule 12 and the ``/_sim`` endpoints: a request log, state, reset and faults over HTTP."""

from __future__ import annotations

import aiohttp

from sandbox.simulator import Simulator, SimulatorConfig, running
from tests.simulator.conftest import AUTH, Api, FakeClock, MakeApi


async def test_the_request_log_records_what_was_sent_and_answered(
    api: Api, clock: FakeClock
) -> None:
    await api.post(
        "contacts/upsert?include=sales_accounts",
        {"unique_identifier": {"emails": "a@b.co"}, "contact": {}},
    )
    await api.get("selector/owners", headers={})

    first, second = api.sim.requests
    assert (first.method, first.path, first.query) == (
        "POST",
        "/crm/sales/api/contacts/upsert",
        {"include": "sales_accounts"},
    )
    assert first.headers["Authorization"] == AUTH["Authorization"]
    assert first.body == {"unique_identifier": {"emails": "a@b.co"}, "contact": {}}
    assert (first.status, first.flavor, first.at) == (200, "suite", clock.now)
    assert (second.status, second.body, second.raw) == (401, None, b"")


async def test_control_endpoints_need_no_auth_and_are_not_logged(api: Api) -> None:
    await api.person("a@b.co")

    log = await api.get("/_sim/requests", headers={})
    state = await api.get("/_sim/state?flavor=suite", headers={})

    assert log.status == 200
    assert [(r["method"], r["path"], r["status"]) for r in log.body["requests"]] == [
        ("POST", "/crm/sales/api/contacts/upsert", 200)
    ]
    assert log.body["requests"][0]["raw"].startswith('{"unique_identifier"')
    assert [c["email"] for c in state.body["contacts"]] == ["a@b.co"]
    assert len(api.sim.requests) == 1


async def test_the_log_can_be_read_from_an_offset(api: Api) -> None:
    for _ in range(3):
        await api.get("selector/owners")

    since = await api.get("/_sim/requests?since=2", headers={})
    bad = await api.get("/_sim/requests?since=x", headers={})

    assert len(since.body["requests"]) == 1
    assert since.body["next"] == 3
    assert (bad.status, bad.errors) == (400, ["since must be a whole number"])


async def test_the_log_keeps_only_the_most_recent_requests(make_api: MakeApi) -> None:
    api = await make_api(log_limit=10, per_minute=0, per_hour=0)
    for n in range(12):
        await api.get(f"selector/owners?n={n}")

    tail = await api.get("/_sim/requests?since=5", headers={})

    # The 11th request trimmed the log a tenth below the limit at once: 9 left, then the 12th.
    assert len(api.sim.requests) == 10
    assert api.sim.requests[0].query == {"n": "2"}
    assert [r["query"]["n"] for r in tail.body["requests"]] == [str(n) for n in range(5, 12)]
    assert tail.body["next"] == 12


async def test_state_of_an_unserved_flavour_is_a_400(api: Api) -> None:
    answer = await api.get("/_sim/state?flavor=enterprise", headers={})

    assert answer.status == 400
    assert answer.errors == ["no 'enterprise' account; served: suite, classic"]


async def test_reset_starts_records_log_faults_windows_and_ids_over(
    make_api, clock: FakeClock
) -> None:
    api = await make_api(per_minute=1, per_hour=0)
    first_id = await api.account("Acme")
    await api.post("/_sim/faults", {"status": 500, "times": 5}, headers={})
    assert (await api.get("selector/owners")).status == 429

    reset = await api.post("/_sim/reset", headers={})

    assert reset.body == {"reset": True}
    assert api.sim.requests == []
    assert api.sim.state() == {
        "contacts": [],
        "sales_accounts": [],
        "deals": [],
        "sales_activities": [],
        "recycle_bin": [],
    }
    assert (await api.get("/_sim/faults", headers={})).body == {"pending": 0}
    assert await api.account("Acme") == first_id


async def test_faults_can_be_queued_over_http(api: Api) -> None:
    queued = await api.post(
        "/_sim/faults",
        {"status": 503, "times": 2, "retry_after": "2", "drop": False, "delay_s": 0},
        headers={},
    )

    answers = [await api.get("selector/owners") for _ in range(3)]

    assert queued.body == {"queued": 2, "pending": 2}
    assert [a.status for a in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "2"


async def test_a_raw_fault_body_can_be_queued_over_http(api: Api) -> None:
    await api.post("/_sim/faults", {"status": 502, "body": "<html>oops</html>"}, headers={})

    answer = await api.get("selector/owners")

    assert (answer.status, answer.body) == (502, "<html>oops</html>")


async def test_a_bad_fault_request_is_a_400_with_every_problem(api: Api) -> None:
    bad = await api.post(
        "/_sim/faults",
        {"status": "503", "drop": "yes", "delay_s": True, "body": 1, "retry_after": []},
        headers={},
    )
    unknown = await api.post("/_sim/faults", {"status": 503, "count": 2}, headers={})
    times = await api.post("/_sim/faults", {"status": 503, "times": 0}, headers={})
    not_json = await api.post("/_sim/faults", raw=b"{", headers={})
    not_object = await api.post("/_sim/faults", [], headers={})
    bad_status = await api.post("/_sim/faults", {"status": 999}, headers={})
    empty = await api.post("/_sim/faults", {"times": 2}, headers={})

    assert bad.errors == [
        "status must be an HTTP status code",
        "retry_after must be a string (seconds or an HTTP date)",
        "drop must be true or false",
        "delay_s must be a number of seconds",
        "body must be a string",
    ]
    assert unknown.errors == ["Unknown fault field 'count'"]
    assert times.errors == ["times must be a whole number >= 1"]
    assert not_json.errors == ["The request body is not valid JSON"]
    assert not_object.errors == ["Expected a JSON object describing the fault"]
    assert bad_status.errors == ["not an HTTP status: 999"]
    assert empty.errors == ["A fault needs status, body, drop or delay_s"]
    assert api.sim.pending_faults == 0


async def test_unknown_control_paths_and_methods_use_the_errors_envelope(api: Api) -> None:
    missing = await api.get("/_sim/nothing", headers={})
    wrong = await api.get("/_sim/reset", headers={})

    assert (missing.status, missing.errors) == (404, ["No simulator endpoint at /_sim/nothing"])
    assert (wrong.status, wrong.errors) == (405, ["GET not allowed here"])
    assert wrong.headers["Allow"] == "POST"


async def test_the_same_calls_give_the_same_answers(make_api, clock: FakeClock) -> None:
    async def session() -> list[object]:
        api = await make_api(seed=3, fail_rate=0.3)
        start = clock.now
        bodies = [
            (
                await api.post(
                    "contacts/upsert",
                    {"unique_identifier": {"emails": f"p{n}@x.co"}, "contact": {}},
                )
            ).body
            for n in range(10)
        ]
        clock.now = start
        return bodies

    assert await session() == await session()


async def test_running_serves_on_a_real_port_with_both_base_urls() -> None:
    sim = Simulator(SimulatorConfig())
    async with running(sim) as served, aiohttp.ClientSession(headers=AUTH) as http:
        assert served.port > 0
        assert served.url == f"http://127.0.0.1:{served.port}"
        assert served.base_url() == f"{served.url}/crm/sales/api"
        assert served.base_url("classic") == f"{served.url}/api"
        async with http.get(served.base_url("classic") + "/selector/owners") as answer:
            assert answer.status == 200
            assert "owners" in await answer.json()
