"""Rule 10: sliding per-minute and per-hour windows per account; 429 with Retry-After."""

from __future__ import annotations

from sandbox.simulator import Fault
from tests.simulator.conftest import FakeClock, MakeApi


async def test_over_the_minute_limit_is_a_429_with_retry_after_until_a_slot_frees(
    make_api: MakeApi, clock: FakeClock
) -> None:
    api = await make_api(per_minute=3, per_hour=0)
    for _ in range(3):
        assert (await api.get("selector/owners")).status == 200
        clock.advance(10)

    refused = await api.get("selector/owners")

    assert refused.status == 429
    assert refused.errors == ["API rate limit exceeded; retry after 30 seconds"]
    assert refused.headers["Retry-After"] == "30"  # the first request leaves the window at 60 s
    clock.advance(29.5)
    assert (await api.get("selector/owners")).headers["Retry-After"] == "1"
    clock.advance(0.5)
    assert (await api.get("selector/owners")).status == 200


async def test_the_hour_limit_holds_across_minutes(make_api: MakeApi, clock: FakeClock) -> None:
    api = await make_api(per_minute=0, per_hour=2)
    await api.get("selector/owners")
    clock.advance(1200)
    await api.get("selector/owners")
    clock.advance(1200)

    refused = await api.get("selector/owners")

    assert refused.status == 429
    assert refused.headers["Retry-After"] == "1200"
    clock.advance(1200)
    assert (await api.get("selector/owners")).status == 200


async def test_retry_after_is_a_whole_number_of_seconds_and_at_least_one(
    make_api: MakeApi, clock: FakeClock
) -> None:
    api = await make_api(per_minute=1, per_hour=0)
    await api.get("selector/owners")
    clock.advance(59.99)

    refused = await api.get("selector/owners")

    assert refused.headers["Retry-After"] == "1"


async def test_invalid_requests_count_but_refused_ones_do_not(make_api: MakeApi) -> None:
    api = await make_api(per_minute=2, per_hour=0)

    assert (await api.post("contacts", {"nope": 1})).status == 400
    assert (await api.get("no/such/path")).status == 404
    for _ in range(5):
        assert (await api.get("selector/owners")).status == 429

    assert len(api.sim.requests) == 7


async def test_the_quota_belongs_to_the_account_not_the_key(make_api: MakeApi) -> None:
    api = await make_api(per_minute=2, limited_keys={"second-key": frozenset()})
    await api.get("selector/owners")
    await api.get("selector/owners", headers={"Authorization": "Token token=second-key"})

    refused = await api.get("selector/owners", headers={"Authorization": "Token token=second-key"})
    other_account = await api.get("selector/owners", flavor="classic")

    assert refused.status == 429
    assert other_account.status == 200


async def test_rate_limit_headers_are_sent_only_when_configured(make_api: MakeApi) -> None:
    plain = await make_api(per_minute=2, per_hour=10)
    flagged = await make_api(per_minute=2, per_hour=10, rate_limit_headers=True)

    quiet = await plain.get("selector/owners")
    first = await flagged.get("selector/owners")
    await flagged.get("selector/owners")
    refused = await flagged.get("selector/owners")

    assert "X-RateLimit-Total" not in quiet.headers
    assert (first.headers["X-RateLimit-Total"], first.headers["X-RateLimit-Remaining"]) == (
        "10",
        "9",
    )
    assert refused.status == 429
    assert refused.headers["X-RateLimit-Remaining"] == "8"


async def test_zero_means_unlimited(make_api: MakeApi) -> None:
    api = await make_api(per_minute=0, per_hour=0, rate_limit_headers=True)

    answers = [await api.get("selector/owners") for _ in range(30)]

    assert {a.status for a in answers} == {200}
    assert "X-RateLimit-Total" not in answers[-1].headers


async def test_the_rate_limit_comes_after_auth_and_before_faults(make_api: MakeApi) -> None:
    limited = await make_api(per_minute=1, per_hour=0)
    limited.sim.inject(Fault(status=503))
    await limited.get("selector/owners")  # charged, then faulted

    refused = await limited.get("selector/owners")

    assert [r.status for r in limited.sim.requests] == [503, 429]
    assert refused.status == 429
