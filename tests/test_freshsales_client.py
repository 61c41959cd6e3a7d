"""The Freshsales client against the simulator: every answer class becomes the right error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from consumer import __version__
from consumer.errors import (
    AccessDenied,
    ConfigurationError,
    Misdirected,
    RateLimited,
    RejectedError,
    TransientError,
)
from consumer.freshsales.answers import MAX_ANSWER_BYTES
from consumer.freshsales.client import ClientOptions, FreshsalesClient
from consumer.freshsales.paced import PacedCaller
from sandbox.simulator import Fault, RunningSimulator, Simulator, SimulatorConfig, running

KEY = "client-test-key"
UPSERT = {
    "unique_identifier": {"emails": "ada@example.com"},
    "contact": {"emails": "ada@example.com", "first_name": "Ada"},
}
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
async def served() -> AsyncIterator[RunningSimulator]:
    sim = Simulator(SimulatorConfig(api_key=KEY, per_minute=0, per_hour=0))
    async with running(sim) as served:
        yield served


@pytest.fixture
async def client(served: RunningSimulator) -> AsyncIterator[FreshsalesClient]:
    options = ClientOptions(timeout_s=1.0, connect_timeout_s=1.0)
    async with FreshsalesClient(served.base_url(), KEY, options, clock=lambda: NOW) as client:
        yield client


async def test_a_2xx_returns_the_decoded_record_and_sends_the_documented_headers(
    served: RunningSimulator, client: FreshsalesClient
) -> None:
    answer = await client.call("POST", "contacts/upsert", UPSERT)
    assert answer.status in (200, 201)
    contact = answer.body["contact"]
    assert isinstance(contact, dict)
    assert contact["email"] == "ada@example.com"
    (logged,) = served.simulator.requests
    assert logged.headers["Authorization"] == f"Token token={KEY}"
    assert logged.headers["Content-Type"] == "application/json"
    assert logged.headers["User-Agent"].startswith(f"freshsales-destination/{__version__}")
    assert logged.path == "/crm/sales/api/contacts/upsert"


async def test_a_201_is_success_too(served: RunningSimulator) -> None:
    sim = Simulator(SimulatorConfig(api_key=KEY, create_status=201))
    async with running(sim) as other, FreshsalesClient(other.base_url(), KEY) as client:
        assert (await client.call("POST", "contacts/upsert", UPSERT)).status == 201


async def test_a_400_is_rejected_with_freshsales_messages(client: FreshsalesClient) -> None:
    body = {"contact": {"emails": "ada@example.com", "cf_no_such_field": 1}}
    with pytest.raises(RejectedError) as caught:
        await client.call("POST", "contacts", body)
    error = caught.value
    assert (error.status, error.retriable, error.fatal) == (400, False, False)
    assert error.messages
    assert error.endpoint == "POST contacts"


async def test_a_404_is_rejected(client: FreshsalesClient) -> None:
    with pytest.raises(RejectedError) as caught:
        await client.call("GET", "contacts/12345")
    assert caught.value.status == 404


@pytest.mark.parametrize("status", [422, 405])
async def test_other_client_errors_are_rejected(
    served: RunningSimulator, client: FreshsalesClient, status: int
) -> None:
    served.simulator.inject(Fault(status=status))
    with pytest.raises(RejectedError) as caught:
        await client.call("POST", "contacts/upsert", UPSERT)
    assert caught.value.status == status


@pytest.mark.parametrize("key", ["wrong-key", KEY + "x"])
async def test_a_refused_key_is_fatal(served: RunningSimulator, key: str) -> None:
    async with FreshsalesClient(served.base_url(), key) as client:
        with pytest.raises(AccessDenied) as caught:
            await client.call("GET", "selector/owners")
    assert (caught.value.status, caught.value.fatal, caught.value.retriable) == (401, True, False)


async def test_a_key_without_permission_is_fatal() -> None:
    config = SimulatorConfig(api_key=KEY, limited_keys={"viewer": frozenset({"deals"})})
    async with (
        running(Simulator(config)) as served,
        FreshsalesClient(served.base_url(), "viewer") as client,
    ):
        with pytest.raises(AccessDenied) as caught:
            await client.call("POST", "deals", {"deal": {"name": "x", "amount": 1}})
    assert caught.value.status == 403


async def test_a_429_carries_retry_after_in_seconds(
    served: RunningSimulator, client: FreshsalesClient
) -> None:
    served.simulator.inject(Fault(status=429, retry_after="7"))
    with pytest.raises(RateLimited) as caught:
        await client.call("POST", "contacts/upsert", UPSERT)
    assert (caught.value.retry_after, caught.value.retriable) == (7.0, True)


async def test_a_429_with_an_http_date_is_converted_to_seconds(
    served: RunningSimulator, client: FreshsalesClient
) -> None:
    when = format_datetime(NOW + timedelta(seconds=42), usegmt=True)
    served.simulator.inject(Fault(status=429, retry_after=when))
    with pytest.raises(RateLimited) as caught:
        await client.call("POST", "contacts/upsert", UPSERT)
    assert caught.value.retry_after == 42.0


async def test_the_simulators_own_quota_429_is_understood() -> None:
    sim = Simulator(SimulatorConfig(api_key=KEY, per_minute=1))
    async with running(sim) as served, FreshsalesClient(served.base_url(), KEY) as client:
        await client.call("GET", "selector/owners")
        with pytest.raises(RateLimited) as caught:
            await client.call("GET", "selector/owners")
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 60


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_transient(
    served: RunningSimulator, client: FreshsalesClient, status: int
) -> None:
    served.simulator.inject(Fault(status=status))
    with pytest.raises(TransientError) as caught:
        await client.call("POST", "contacts/upsert", UPSERT)
    assert (caught.value.status, caught.value.retriable) == (status, True)


async def test_a_dropped_connection_is_transient(
    served: RunningSimulator, client: FreshsalesClient
) -> None:
    served.simulator.inject(Fault(drop=True))
    with pytest.raises(TransientError) as caught:
        await client.call("POST", "contacts/upsert", UPSERT)
    assert caught.value.status is None
    assert "closed the connection" in str(caught.value)


async def test_a_slow_answer_times_out_as_transient(
    served: RunningSimulator, client: FreshsalesClient
) -> None:
    served.simulator.inject(Fault(delay_s=3.0))
    with pytest.raises(TransientError, match=r"no answer within 1s"):
        await client.call("POST", "contacts/upsert", UPSERT)


async def test_nothing_listening_is_a_transient_connection_error() -> None:
    from sandbox.broker import free_port

    base = f"http://127.0.0.1:{free_port()}/crm/sales/api"
    async with FreshsalesClient(base, KEY) as client:
        with pytest.raises(TransientError, match="cannot connect"):
            await client.call("GET", "selector/owners")


async def test_a_2xx_that_is_not_json_is_transient(
    served: RunningSimulator, client: FreshsalesClient
) -> None:
    served.simulator.inject(Fault(status=200, body=b"<html>maintenance</html>"))
    with pytest.raises(TransientError, match="not a JSON object"):
        await client.call("POST", "contacts/upsert", UPSERT)


async def test_a_runaway_answer_is_cut_off(
    served: RunningSimulator, client: FreshsalesClient
) -> None:
    served.simulator.inject(Fault(status=200, body=b"[" + b"0," * MAX_ANSWER_BYTES + b"0]"))
    with pytest.raises(TransientError, match="larger than"):
        await client.call("POST", "contacts/upsert", UPSERT)


async def test_an_empty_2xx_is_an_empty_answer(
    served: RunningSimulator, client: FreshsalesClient
) -> None:
    served.simulator.inject(Fault(status=204, body=b""))
    assert (await client.call("DELETE", "contacts/1")).body == {}


async def test_a_redirect_is_not_followed_and_is_fatal(
    served: RunningSimulator, client: FreshsalesClient
) -> None:
    served.simulator.inject(Fault(status=302))
    with pytest.raises(Misdirected) as caught:
        await client.call("GET", "selector/owners")
    assert caught.value.fatal
    assert len(served.simulator.requests) == 1


@pytest.mark.parametrize(
    "path", ["/contacts", "../admin", "contacts/../../x", "http://evil/x", "contacts?x=1", ""]
)
async def test_unexpected_paths_never_reach_the_wire(
    served: RunningSimulator, client: FreshsalesClient, path: str
) -> None:
    with pytest.raises(RejectedError, match="unexpected path"):
        await client.call("GET", path)
    assert served.simulator.requests == []


@pytest.mark.parametrize("key", ["", "two words", "line\nbreak", "tab\tkey"])
def test_a_key_that_cannot_be_a_header_is_a_configuration_error(key: str) -> None:
    with pytest.raises(ConfigurationError, match="FRESHSALES_API_KEY"):
        FreshsalesClient("http://127.0.0.1:1/api", key)


async def test_calls_need_an_open_client(served: RunningSimulator) -> None:
    client = FreshsalesClient(served.base_url(), KEY)
    with pytest.raises(RuntimeError, match="before open"):
        await client.call("GET", "selector/owners")
    await client.close()  # closing a client never opened is harmless


class Meter:
    """Records what the quota stage tells the budget."""

    def __init__(self) -> None:
        self.acquired = 0
        self.released: list[tuple[int | None, float | None, int | None, int | None]] = []

    async def acquire(self) -> None:
        self.acquired += 1

    def release(
        self,
        status: int | None,
        *,
        retry_after_s: float | None = None,
        remaining: int | None = None,
        total: int | None = None,
        ticket: int | None = None,
    ) -> None:
        self.released.append((status, retry_after_s, remaining, total))


async def test_every_call_spends_the_quota_and_reports_what_the_answer_said_of_it() -> None:
    config = SimulatorConfig(api_key=KEY, per_minute=2, per_hour=100, rate_limit_headers=True)
    meter = Meter()
    async with (
        running(Simulator(config)) as served,
        FreshsalesClient(served.base_url(), KEY) as client,
    ):
        paced = PacedCaller(meter, client)
        await paced.call("GET", "selector/owners")
        await paced.call("GET", "selector/owners")
        with pytest.raises(RateLimited):
            await paced.call("GET", "selector/owners")
        answers = dict(client.answers)
    assert meter.acquired == 3
    (s1, r1, left1, total1), (s2, _, left2, _), (s3, wait, _, _) = meter.released
    assert (s1, r1, left1, total1) == (200, None, 99, 100)  # the simulator reports the hour
    assert (s2, left2) == (200, 98)
    assert s3 == 429
    assert wait is not None
    assert 0 < wait <= 60
    assert answers == {("GET selector/owners", "200"): 2, ("GET selector/owners", "429"): 1}


async def test_a_call_that_gets_no_answer_still_counts() -> None:
    meter = Meter()
    async with FreshsalesClient(
        "http://127.0.0.1:9/crm/sales/api", KEY, ClientOptions(connect_timeout_s=1.0)
    ) as client:
        with pytest.raises(TransientError):
            await PacedCaller(meter, client).call("POST", "contacts/upsert", UPSERT)
        assert client.answers == {("POST contacts/upsert", "none"): 1}
    assert meter.released == [(None, None, None, None)]


async def test_a_path_refused_before_sending_spends_no_quota() -> None:
    meter = Meter()
    async with FreshsalesClient("http://127.0.0.1:9/crm/sales/api", KEY) as client:
        with pytest.raises(RejectedError, match="unexpected path"):
            await PacedCaller(meter, client).call("GET", "../admin")
    assert (meter.acquired, meter.released) == (0, [])


async def test_an_include_query_reaches_the_wire_and_the_metric_names_the_endpoint_alone(
    served: RunningSimulator, client: FreshsalesClient
) -> None:
    created = await client.call("POST", "contacts/upsert?include=sales_accounts", UPSERT)
    contact = created.body["contact"]
    assert isinstance(contact, dict)
    assert contact["sales_accounts"] == []
    await client.call("GET", f"contacts/{contact['id']}?include=sales_accounts")
    assert [r.query for r in served.simulator.requests] == [{"include": "sales_accounts"}] * 2
    assert client.answers == {
        ("POST contacts/upsert", "200"): 1,
        ("GET contacts/{id}", "200"): 1,
    }
    for path in ("contacts/1?include=x&y=1", "contacts/1?include=", "contacts/1?fields=a"):
        with pytest.raises(RejectedError, match="unexpected path"):
            await client.call("GET", path)
