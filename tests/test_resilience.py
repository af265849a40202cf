"""The resilience layer (connectors/resilience) in isolation: breaker, retry budget, backoff,
settings, and UpstreamHttp's retries, deadlines and concurrency over a scripted transport."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
from fault_proxy import Fault, FaultProxy
from pydantic import SecretStr, ValidationError

from connectors.errors import (
    CircuitOpen,
    UpstreamError,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.http import UpstreamHttp, retry_after_seconds
from connectors.resilience import (
    CircuitBreaker,
    CircuitState,
    Outcome,
    ResilienceOverrides,
    ResilienceSettings,
    RetryBudget,
    UpstreamPolicy,
    backoff_seconds,
    request_deadline,
)
from connectors.salesforce.rest import SalesforceRest
from connectors.salesforce.settings import SalesforceSettings
from connectors.shopify.graphql import ShopifyGraphql
from connectors.shopify.settings import ShopifySettings
from gateway.settings import Settings
from gateway.wiring.build import upstream_transport

BASE = "http://upstream.test"
FAST = {"backoff_base_seconds": 0.001, "backoff_max_seconds": 0.002}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: FakeClock, **overrides: Any) -> CircuitBreaker:
    options: dict[str, Any] = {
        "failure_ratio": 0.5,
        "min_calls": 4,
        "window_seconds": 10.0,
        "open_seconds": 5.0,
        "half_open_probes": 1,
    }
    return CircuitBreaker("shopify", clock=clock, **{**options, **overrides})


def outcomes(circuit: CircuitBreaker, *results: Outcome) -> None:
    for result in results:
        permit = circuit.allow()
        assert permit is not None
        circuit.record(permit, result)


OK, BAD, SKIP = Outcome.SUCCESS, Outcome.FAILURE, Outcome.IGNORED


# --- circuit breaker ----------------------------------------------------------------------


def test_breaker_waits_for_min_calls_before_judging_the_ratio():
    circuit = breaker(FakeClock())
    outcomes(circuit, BAD, BAD, BAD)
    assert circuit.state is CircuitState.CLOSED


def test_breaker_opens_at_the_failure_ratio_and_refuses_calls():
    circuit = breaker(FakeClock())
    outcomes(circuit, OK, BAD, OK)
    assert circuit.state is CircuitState.CLOSED
    outcomes(circuit, BAD)  # 2 of 4
    assert circuit.state is CircuitState.OPEN
    assert circuit.allow() is None


def test_breaker_forgets_failures_older_than_its_window():
    clock = FakeClock()
    circuit = breaker(clock)
    outcomes(circuit, BAD, BAD, BAD)
    clock.now += 11
    outcomes(circuit, OK, OK, OK, BAD)  # 1 of 4 in the window
    assert circuit.state is CircuitState.CLOSED


def test_breaker_counts_neither_throttles_nor_cut_calls():
    circuit = breaker(FakeClock())
    outcomes(circuit, SKIP, SKIP, SKIP, SKIP, BAD, OK, OK, OK)
    assert circuit.state is CircuitState.CLOSED


def test_breaker_probes_half_open_and_closes_on_success():
    clock = FakeClock()
    changes: list[CircuitState] = []
    circuit = breaker(clock, on_change=lambda service, state: changes.append(state))
    outcomes(circuit, BAD, BAD, BAD, BAD)
    clock.now += 4.9
    assert circuit.allow() is None
    clock.now += 0.1
    assert circuit.state is CircuitState.HALF_OPEN
    probe = circuit.allow()
    assert probe is not None
    assert probe.probe
    assert circuit.allow() is None  # one probe at a time
    circuit.record(probe, OK)
    assert circuit.state is CircuitState.CLOSED
    assert changes == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]
    outcomes(circuit, BAD, BAD, BAD)  # a fresh window: old failures are gone
    assert circuit.state is CircuitState.CLOSED


def test_a_failed_probe_reopens_for_the_full_open_time():
    clock = FakeClock()
    circuit = breaker(clock)
    outcomes(circuit, BAD, BAD, BAD, BAD)
    clock.now += 5
    outcomes(circuit, BAD)
    assert circuit.state is CircuitState.OPEN
    clock.now += 4.9
    assert circuit.allow() is None


def test_a_cancelled_probe_frees_its_slot():
    clock = FakeClock()
    circuit = breaker(clock)
    outcomes(circuit, BAD, BAD, BAD, BAD)
    clock.now += 5
    outcomes(circuit, SKIP)
    assert circuit.state is CircuitState.HALF_OPEN
    assert circuit.allow() is not None


def test_an_outcome_from_before_a_state_change_is_ignored():
    clock = FakeClock()
    circuit = breaker(clock, min_calls=2)
    early = circuit.allow()
    assert early is not None
    outcomes(circuit, BAD, BAD)
    clock.now += 5
    probe = circuit.allow()
    assert probe is not None
    circuit.record(early, OK)  # a slow call started while CLOSED: not a probe's success
    assert circuit.state is CircuitState.HALF_OPEN
    circuit.record(probe, OK)
    assert circuit.state is CircuitState.CLOSED


# --- retry budget and backoff -------------------------------------------------------------


def test_retry_budget_is_a_reserve_plus_a_share_of_calls():
    clock = FakeClock()
    budget = RetryBudget(ratio=0.5, min_per_second=0.1, window_seconds=10, clock=clock)
    for _ in range(4):
        budget.record_call()
    assert [budget.try_spend() for _ in range(4)] == [True, True, True, False]  # 1 + 0.5 * 4
    clock.now += 11
    assert budget.try_spend()  # the window moved on


def test_backoff_is_full_jitter_under_an_exponential_cap():
    settings = ResilienceSettings(backoff_base_seconds=0.1, backoff_max_seconds=0.5)
    rng = random.Random(7)
    for retry, cap in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (9, 0.5)]:
        waits = [backoff_seconds(retry, settings, rng) for _ in range(200)]
        assert 0 <= min(waits) < cap / 4
        assert cap * 3 / 4 < max(waits) <= cap


def test_retry_after_takes_seconds_or_an_http_date():
    def response(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"retry-after": value})

    assert retry_after_seconds(response("7")) == 7.0
    assert retry_after_seconds(response("-3")) == 0.0
    assert retry_after_seconds(response("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # past
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < (retry_after_seconds(response(later)) or 0) <= 30
    assert retry_after_seconds(response("soon")) is None


# --- settings -----------------------------------------------------------------------------


def test_each_upstream_inherits_all_but_its_overrides():
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        upstreams={"all": {"deadline_seconds": 3, "retries": 1}, "shopify": {"retries": 4}},
    )
    shopify = settings.upstreams.for_service("shopify")
    square = settings.upstreams.for_service("square")
    assert (shopify.deadline_seconds, shopify.retries) == (3, 4)
    assert (square.deadline_seconds, square.retries) == (3, 1)
    copied = settings.with_changes(square={"base_url": "http://elsewhere"})
    assert copied.upstreams.for_service("square").retries == 1  # a dump keeps inheriting


def test_upstream_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OMNIGATE_UPSTREAMS__ALL__DEADLINE_SECONDS", "2.5")
    monkeypatch.setenv("OMNIGATE_UPSTREAMS__SALESFORCE__BREAKER_OPEN_SECONDS", "30")
    monkeypatch.setenv("OMNIGATE_REQUEST_DEADLINE_SECONDS", "4")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    salesforce = settings.upstreams.for_service("salesforce")
    assert (salesforce.deadline_seconds, salesforce.breaker_open_seconds) == (2.5, 30)
    assert settings.upstreams.for_service("square").breaker_open_seconds == 5
    assert settings.request_deadline_seconds == 4


def test_an_override_out_of_bounds_is_refused():
    with pytest.raises(ValidationError, match="breaker_failure_ratio"):
        Settings(_env_file=None, upstreams={"square": {"breaker_failure_ratio": 2}})  # type: ignore[call-arg]
    assert set(ResilienceOverrides.model_fields) == set(ResilienceSettings.model_fields)


def test_the_old_http_timeouts_are_refused_with_their_new_names(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OMNIGATE_HTTP__TIMEOUT_SECONDS", "5")
    with pytest.raises(ValidationError, match=r"upstreams\.all\.deadline_seconds"):
        Settings(_env_file=None)  # type: ignore[call-arg]


# --- UpstreamHttp under the policy --------------------------------------------------------

Answer = httpx.Response | Exception | Callable[[httpx.Request], Awaitable[httpx.Response]]


class Script:
    """A transport answering each request with the next scripted answer (the last repeats)."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return await answer(request)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def retried(self, service: str, operation: str, reason: str) -> None:
        self.events.append(("retried", reason))

    def retry_refused(self, service: str, operation: str, reason: str) -> None:
        self.events.append(("refused", reason))

    def rejected(self, service: str, operation: str, reason: str) -> None:
        self.events.append(("rejected", reason))

    def circuit_changed(self, service: str, state: CircuitState) -> None:
        self.events.append(("circuit", state.value))


def upstream(
    script: Script, recorder: Recorder | None = None, service: str = "square", **settings: Any
) -> UpstreamHttp:
    client = httpx.AsyncClient(transport=httpx.MockTransport(script))
    policy = UpstreamPolicy(
        service, ResilienceSettings(**{**FAST, **settings}), observer=recorder or Recorder()
    )
    return UpstreamHttp(client, service=service, base_url=BASE, policy=policy)


def unavailable() -> httpx.Response:
    return httpx.Response(503, json={"errors": [{"code": "SERVICE_UNAVAILABLE"}]})


def ok(payload: Any = None) -> httpx.Response:
    return httpx.Response(200, json=payload if payload is not None else {"ok": True})


def hang(seconds: float) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    async def answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(seconds)
        return ok()

    return answer


async def test_a_read_is_retried_after_5xx_until_it_succeeds():
    script = Script(unavailable(), unavailable(), ok())
    recorder = Recorder()
    response = await upstream(script, recorder, retries=2).send(
        "square.locations.list", "GET", "/v2/locations", idempotent=True
    )
    assert response.status_code == 200
    assert len(script.requests) == 3
    assert recorder.events[1:] == [("retried", "UPSTREAM_UNAVAILABLE")] * 2


async def test_without_a_reader_the_last_failed_response_reaches_the_caller():
    """So an adapter still reads its vendor's error envelope for the logs, as before."""
    script = Script(unavailable())
    response = await upstream(script, retries=2).send("op", "GET", "/x", idempotent=True)
    assert (response.status_code, len(script.requests)) == (503, 3)


def failing_status(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 500:
        raise UpstreamUnavailable("square", "op", f"HTTP {response.status_code}")
    return response


@pytest.mark.parametrize(
    "failure",
    [unavailable(), httpx.ReadError("connection reset"), httpx.RemoteProtocolError("closed")],
    ids=["503", "reset", "closed"],
)
async def test_a_write_without_an_idempotency_key_is_sent_once(failure: Answer):
    script = Script(failure, ok())
    http = upstream(script, retries=3)
    with pytest.raises(UpstreamUnavailable):
        await http.send(
            "square.orders.create", "POST", "/v2/orders", json_body={}, read=failing_status
        )
    assert len(script.requests) == 1


async def test_a_write_carrying_an_idempotency_key_is_retried():
    script = Script(unavailable(), ok())
    body = {"idempotency_key": "checkout-1", "order": {}}
    http = upstream(script, retries=2)
    response = await http.send("op", "POST", "/v2/orders", json_body=body, idempotent=True)
    assert response.status_code == 200
    assert [orjson.loads(r.content) for r in script.requests] == [body, body]


async def test_a_refused_connection_is_retried_even_for_a_write():
    """No connection, nothing sent: sending it again cannot place anything twice."""
    script = Script(httpx.ConnectError("refused"), ok())
    response = await upstream(script, retries=1).send("op", "POST", "/v2/orders", json_body={})
    assert (response.status_code, len(script.requests)) == (200, 2)


async def test_a_rejected_request_is_not_retried():
    script = Script(httpx.Response(400, json={"errors": []}), ok())
    response = await upstream(script).send("op", "GET", "/x", idempotent=True)
    assert (response.status_code, len(script.requests)) == (400, 1)


async def test_retry_after_is_honoured():
    throttled = httpx.Response(429, headers={"retry-after": "0.3"}, json={"errors": []})
    script = Script(throttled, ok())
    started = time.monotonic()
    response = await upstream(script).send("op", "GET", "/x", idempotent=True)
    assert (response.status_code, len(script.requests)) == (200, 2)
    assert time.monotonic() - started >= 0.3


async def test_a_retry_after_beyond_the_deadline_fails_at_once():
    throttled = httpx.Response(429, headers={"retry-after": "5"}, json={"errors": []})
    script = Script(throttled, ok())
    recorder = Recorder()
    http = upstream(script, recorder, deadline_seconds=1.0)
    started = time.monotonic()
    response = await http.send("op", "GET", "/x", idempotent=True)
    assert (response.status_code, len(script.requests)) == (429, 1)
    assert time.monotonic() - started < 0.2
    assert ("refused", "deadline") in recorder.events


async def test_shopify_throttled_waits_for_the_bucket_to_restore():
    cost = {
        "requestedQueryCost": 110,
        "actualQueryCost": None,
        "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 90, "restoreRate": 100},
    }
    throttled = ok(
        {
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {"cost": cost},
        }
    )
    script = Script(throttled, ok({"data": {"shop": {"name": "x"}}}))
    settings = ShopifySettings(base_url=BASE, access_token=SecretStr("shpat"))
    shopify = ShopifyGraphql(upstream(script, service="shopify"), settings)
    started = time.monotonic()
    data = await shopify.query("shopify.shop", "{ shop { name } }", {}, idempotent=True)
    assert data == {"shop": {"name": "x"}}
    assert len(script.requests) == 2
    assert time.monotonic() - started >= 0.2  # (110 - 90) / 100 points per second


async def test_a_throttled_shopify_mutation_is_not_retried():
    throttled = ok({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]})
    script = Script(throttled, ok({"data": {}}))
    settings = ShopifySettings(base_url=BASE, access_token=SecretStr("shpat"))
    shopify = ShopifyGraphql(upstream(script, service="shopify"), settings)
    with pytest.raises(UpstreamThrottled):
        await shopify.query("shopify.order_create", "mutation { x }", {}, idempotent=False)
    assert len(script.requests) == 1


async def test_square_rate_limited_is_retried_after_its_retry_after():
    limited = httpx.Response(
        429,
        headers={"retry-after": "0"},
        json={"errors": [{"category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED"}]},
    )
    script = Script(limited, ok({"locations": []}))
    response = await upstream(script).send("op", "GET", "/v2/locations", idempotent=True)
    assert (response.status_code, len(script.requests)) == (200, 2)


async def test_salesforce_request_limit_exceeded_is_not_retried():
    """The org's allocation is a rolling 24 hours: a retry now is only refused again."""
    token = ok({"access_token": "t", "instance_url": BASE})
    limit = httpx.Response(
        403,
        json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    )
    script = Script(token, limit, ok({"records": [], "done": True}))
    settings = SalesforceSettings(login_url=BASE)
    rest = SalesforceRest(upstream(script, service="salesforce", retries=3), settings)
    with pytest.raises(UpstreamThrottled) as raised:
        await rest.query("salesforce.find", "SELECT Id FROM Contact")
    assert raised.value.code == "UPSTREAM_THROTTLED"
    assert len(script.requests) == 2  # the token, then one query


async def test_an_unreadable_answer_is_retried_when_the_adapter_reads_it():
    token = ok({"access_token": "t", "instance_url": BASE})
    html = httpx.Response(200, text="<html>maintenance</html>")
    script = Script(token, html, ok({"records": [{"Id": "1"}], "done": True}))
    settings = SalesforceSettings(login_url=BASE)
    rest = SalesforceRest(upstream(script, service="salesforce", retries=1), settings)
    assert await rest.query("salesforce.find", "SELECT Id FROM Contact") == [{"Id": "1"}]
    assert len(script.requests) == 3


async def test_the_retry_budget_caps_retries_across_calls():
    script = Script(unavailable())
    recorder = Recorder()
    # a reserve of 2 retries per 10 s, nothing earned from traffic
    http = upstream(
        script,
        recorder,
        retries=2,
        retry_budget_ratio=0,
        retry_budget_min_per_second=0.2,
        retry_budget_window_seconds=10,
    )
    for _ in range(5):
        response = await http.send("op", "GET", "/x", idempotent=True)
        assert response.status_code == 503
    assert len(script.requests) == 5 + 2
    assert recorder.events.count(("refused", "budget")) == 4


async def test_the_deadline_covers_every_attempt_and_backoff():
    script = Script(hang(10))
    http = upstream(script, deadline_seconds=0.3, retries=5)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await http.send("op", "GET", "/x", idempotent=True)
    assert 0.3 <= time.monotonic() - started < 0.4
    assert len(script.requests) == 1  # the one attempt used the whole deadline


async def test_an_attempt_timeout_lets_a_hung_attempt_be_retried():
    script = Script(hang(10), ok())
    http = upstream(script, deadline_seconds=2, attempt_timeout_seconds=0.1, retries=1)
    response = await http.send("op", "GET", "/x", idempotent=True)
    assert (response.status_code, len(script.requests)) == (200, 2)


async def test_the_request_deadline_cuts_a_call_short_without_blaming_the_upstream():
    script = Script(hang(10))
    http = upstream(script, deadline_seconds=5, breaker_min_calls=1)
    started = time.monotonic()
    with request_deadline(0.2), pytest.raises(UpstreamTimeout):
        await http.send("op", "GET", "/x", idempotent=True)
    assert 0.2 <= time.monotonic() - started < 0.3
    assert http.policy.breaker.state is CircuitState.CLOSED


async def test_a_spent_request_deadline_sends_nothing():
    script = Script(ok())
    with request_deadline(0), pytest.raises(UpstreamTimeout):
        await upstream(script).send("op", "GET", "/x", idempotent=True)
    assert script.requests == []


async def test_an_open_circuit_fails_fast_without_calling():
    script = Script(unavailable())
    recorder = Recorder()
    http = upstream(script, recorder, retries=0, breaker_min_calls=2, breaker_open_seconds=60)
    for _ in range(2):
        await http.send("op", "GET", "/x", idempotent=True)
    assert http.policy.breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpen) as raised:
        await http.send("op", "GET", "/x", idempotent=True)
    assert (raised.value.code, raised.value.service) == ("CIRCUIT_OPEN", "square")
    assert len(script.requests) == 2
    assert ("rejected", "circuit_open") in recorder.events


async def test_a_retry_the_opened_breaker_refuses_reports_the_upstreams_failure():
    script = Script(unavailable())
    http = upstream(script, retries=2, breaker_min_calls=1, breaker_open_seconds=60)
    with pytest.raises(UpstreamUnavailable) as raised:
        await http.send("op", "GET", "/x", idempotent=True, read=failing_status)
    assert raised.value.code == "UPSTREAM_UNAVAILABLE"
    assert len(script.requests) == 1
    assert http.policy.breaker.state is CircuitState.OPEN


async def test_the_concurrency_limit_queues_calls_within_their_deadline():
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return ok()

    script = Script(slow)
    http = upstream(script, max_concurrency=2)
    answers = await asyncio.gather(*(http.send("op", "GET", "/x") for _ in range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert peak == 2


async def test_a_call_that_finds_no_slot_before_its_deadline_times_out_unsent():
    script = Script(hang(0.5), ok())
    recorder = Recorder()
    http = upstream(script, recorder, max_concurrency=1, deadline_seconds=1)
    first = asyncio.create_task(http.send("op", "GET", "/x"))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    with request_deadline(0.1), pytest.raises(UpstreamTimeout):
        await http.send("op", "GET", "/x")
    assert 0.1 <= time.monotonic() - started < 0.2
    assert len(script.requests) == 1
    assert ("rejected", "concurrency") in recorder.events
    assert (await first).status_code == 200


# --- through the real transport and the fault proxy ---------------------------------------


@pytest.fixture
async def proxy(sandbox) -> Any:
    async with FaultProxy(sandbox.url("square")) as proxy:
        yield proxy


def upstream_through(kind: str, proxy: FaultProxy, **settings: Any) -> UpstreamHttp:
    client = httpx.AsyncClient(transport=upstream_transport(kind))
    policy = UpstreamPolicy("square", ResilienceSettings(**{**FAST, **settings}))
    return UpstreamHttp(client, service="square", base_url=proxy.url, policy=policy)


@pytest.mark.parametrize("kind", ["http1", "aiohttp"])
async def test_a_reset_post_is_sent_once(proxy: FaultProxy, kind: str):
    """The transports resend an idempotent method (GET) after a reset, each by its own rule
    (tests/test_fault_proxy.py); never a POST."""
    http = upstream_through(kind, proxy, retries=3)
    proxy.set(Fault.RESET)
    async with http.client:
        with pytest.raises(UpstreamUnavailable):
            await http.send("square.orders.create", "POST", "/v2/orders", json_body={})
    assert proxy.seen() == 1


@pytest.mark.parametrize("kind", ["http1", "aiohttp"])
async def test_a_slow_drip_is_cut_at_the_deadline(proxy: FaultProxy, kind: str):
    """Each byte comes well within any read timeout; only the deadline on the whole call
    ends it."""
    http = upstream_through(kind, proxy, deadline_seconds=0.4, retries=2)
    proxy.set(Fault.SLOW_DRIP, drip_interval=0.1)
    started = time.monotonic()
    async with http.client:
        with pytest.raises(UpstreamTimeout):
            await http.send("square.locations.list", "GET", "/v2/locations", idempotent=True)
    assert 0.4 <= time.monotonic() - started < 0.5


async def test_errors_say_nothing_of_the_vendor_publicly():
    script = Script(httpx.ReadError("reset by 10.0.0.7"))
    with pytest.raises(UpstreamError) as raised:
        await upstream(script, retries=0).send("op", "GET", "/x", idempotent=True)
    assert raised.value.public_message == "The square service is unavailable."
    assert "10.0.0.7" in raised.value.detail
