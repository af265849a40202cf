"""Rate limiting per principal: a token bucket per customer, developer, device, staff member
or client address, kept in MongoDB so every pod counts against the same budget. Over it: 429,
Retry-After and RATE_LIMITED, before anything runs."""

from __future__ import annotations

import asyncio
from ipaddress import ip_network

import pytest
from conftest import bearer

from gateway.limits.client_address import client_address
from gateway.settings import Environment, RateLimitSettings, Settings

UPSTREAMS = ("square", "shopify", "salesforce")
PRODUCTS = "{ products(first: 2) { edges { node { sku } } } }"


def limited(settings, requests: int = 3, window_seconds: float = 60, **more) -> Settings:
    every_kind = {"requests": requests, "window_seconds": window_seconds}
    return settings.with_changes(
        rate_limits={
            "enabled": True,
            **dict.fromkeys(("anonymous", "customer", "developer", "kiosk", "staff"), every_kind),
            **more,
        }
    )


async def status_of(gateway, headers: dict | None = None) -> int:
    response = await gateway.http.post("/graphql", json={"query": PRODUCTS}, headers=headers)
    return response.status_code


def upstream_calls(sandbox) -> int:
    return sum(sandbox.total_calls(vendor) for vendor in UPSTREAMS)


async def test_the_request_over_the_budget_is_refused_before_anything_runs(
    settings, sandbox, make_gateway
):
    async with make_gateway(limited(settings, requests=3)) as gateway:
        for _ in range(3):
            assert await status_of(gateway) == 200
        sandbox.reset_calls()
        response = await gateway.http.post("/graphql", json={"query": PRODUCTS})
        assert response.status_code == 429
        # the bucket refills 3 tokens per 60 s: the next one in 20 s
        assert 1 <= int(response.headers["retry-after"]) <= 20
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "RATE_LIMITED"}
        assert "at most 3 per 60 s" in error["message"]
        assert "data" not in response.json()
        assert upstream_calls(sandbox) == 0


async def test_each_principal_has_its_own_budget(settings, make_gateway, tokens, dataset):
    first, second = (bearer(tokens.customer(c.id)) for c in dataset.crm_contacts[:2])
    store = dataset.stores[0].id
    kiosk = bearer(tokens.kiosk(store, device_id="kiosk-1"))
    same_device_elsewhere = bearer(tokens.kiosk(dataset.stores[1].id, device_id="kiosk-1"))
    staff = bearer(tokens.staff(store))
    developer, other_developer = (
        bearer(tokens.developer("dev-1")),
        bearer(tokens.developer("dev-2")),
    )
    async with make_gateway(limited(settings, requests=2)) as gateway:
        assert [await status_of(gateway) for _ in range(3)] == [200, 200, 429]
        assert [await status_of(gateway, first) for _ in range(3)] == [200, 200, 429]
        for headers in (second, kiosk, same_device_elsewhere, staff, developer):
            assert await status_of(gateway, headers) == 200
        assert await status_of(gateway, kiosk) == 200
        assert await status_of(gateway, kiosk) == 429
        assert [await status_of(gateway, developer) for _ in range(2)] == [200, 429]
        assert await status_of(gateway, other_developer) == 200


async def test_budgets_are_set_per_kind_of_principal(settings, make_gateway, tokens, dataset):
    customer = bearer(tokens.customer(dataset.crm_contacts[0].id))
    kinds = limited(settings, requests=1, customer={"requests": 3, "window_seconds": 60})
    async with make_gateway(kinds) as gateway:
        assert [await status_of(gateway) for _ in range(2)] == [200, 429]
        assert [await status_of(gateway, customer) for _ in range(4)] == [200, 200, 200, 429]


async def test_the_budget_refills_after_the_window(settings, make_gateway):
    # A token comes back every window/requests = 2 s: slow enough that three requests on a
    # busy machine do not see one refill between them.
    async with make_gateway(limited(settings, requests=2, window_seconds=4)) as gateway:
        assert [await status_of(gateway) for _ in range(3)] == [200, 200, 429]
        await asyncio.sleep(4.1)  # a full window: the bucket is full again
        assert [await status_of(gateway) for _ in range(3)] == [200, 200, 429]


async def test_pods_sharing_mongodb_share_the_budget(settings, make_gateway):
    shared = limited(settings, requests=3)
    async with make_gateway(shared) as first, make_gateway(shared) as second:
        assert await status_of(first) == 200
        assert await status_of(second) == 200
        assert await status_of(first) == 200
        assert await status_of(second) == 429
        assert await status_of(first) == 429


async def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(settings, make_gateway):
    """httpx's ASGI transport connects from 127.0.0.1."""

    def from_(address: str) -> dict:
        return {"x-forwarded-for": address}

    async with make_gateway(limited(settings, requests=1)) as gateway:
        assert await status_of(gateway, from_("203.0.113.1")) == 200
        # a made-up address per request would otherwise be a fresh budget per request
        assert await status_of(gateway, from_("203.0.113.2")) == 429

    trusting = limited(settings, requests=1, trusted_proxies=["127.0.0.1"])
    async with make_gateway(trusting) as gateway:
        assert await status_of(gateway, from_("203.0.113.1")) == 200
        assert await status_of(gateway, from_("203.0.113.2")) == 200
        # what the client wrote left of the address the proxy appended counts for nothing
        assert await status_of(gateway, from_("198.51.100.7, 203.0.113.1")) == 429


async def test_refusals_are_counted_per_kind_of_principal(settings, make_gateway):
    async with make_gateway(limited(settings, requests=1)) as gateway:
        assert [await status_of(gateway) for _ in range(3)] == [200, 429, 429]
        metrics = (await gateway.http.get("/metrics")).text
        assert 'omnigate_rate_limited_requests_total{principal="ANONYMOUS"} 2.0' in metrics


async def test_the_test_environment_does_not_limit_unless_told_to(settings, make_gateway):
    # test suites and load benchmarks send everything from one loopback address
    tight = settings.with_changes(rate_limits={"anonymous": {"requests": 1}})
    assert tight.env is Environment.TEST
    async with make_gateway(tight) as gateway:
        assert [await status_of(gateway) for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize(
    ("env", "active"),
    [(Environment.DEVELOPMENT, True), (Environment.PRODUCTION, True), (Environment.TEST, False)],
)
def test_rate_limits_are_on_outside_the_test_environment(env, active):
    assert RateLimitSettings().active(env) is active
    assert RateLimitSettings(enabled=True).active(Environment.TEST)


def test_a_partial_override_keeps_the_kinds_other_defaults(monkeypatch):
    monkeypatch.setenv("OMNIGATE_RATE_LIMITS__CUSTOMER__REQUESTS", "50")
    limits = Settings(_env_file=None).rate_limits  # type: ignore[call-arg]
    assert (limits.customer.requests, limits.customer.window_seconds) == (50, 60)
    assert (limits.anonymous.requests, limits.kiosk.requests, limits.staff.requests) == (
        600,
        600,
        600,
    )
    assert (limits.developer.requests, limits.developer.window_seconds) == (300, 60)


PROXIES = [ip_network("10.0.0.0/8"), ip_network("2001:db8:ffff::/48")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "counted_as"),
    [
        ("198.51.100.7", ["203.0.113.9"], "198.51.100.7"),  # peer not a proxy: header ignored
        ("10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.2", ["1.2.3.4, 203.0.113.9, 10.1.1.1"], "203.0.113.9"),  # skips proxies
        ("10.0.0.2", ["1.2.3.4", "203.0.113.9"], "203.0.113.9"),  # several headers, in order
        ("10.0.0.2", ["not-an-ip, 10.1.1.1"], "10.1.1.1"),  # garbage: the last trusted hop
        ("10.0.0.2", [], "10.0.0.2"),
        ("2001:db8:1:2:3:4:5:6", [], "2001:db8:1:2::/64"),  # IPv6 clients per /64
        ("2001:db8:ffff::1", ["2001:db8:1:2::9"], "2001:db8:1:2::/64"),
        ("::ffff:10.0.0.2", ["203.0.113.9"], "203.0.113.9"),  # IPv4-mapped proxy
        ("::ffff:198.51.100.7", [], "198.51.100.7"),
    ],
)
def test_the_client_address(peer, forwarded, counted_as):
    assert client_address(peer, forwarded, PROXIES) == counted_as
