"""Resilience through the whole gateway: the circuit breaker opening and recovering as
/metrics and /readyz report it, retries counted, and the request-wide deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Sandbox, Tokens, bearer
from fault_proxy import Fault, FaultProxy, behind_proxies, proxies_in_front_of
from prometheus_client.parser import text_string_to_metric_families

from gateway.settings import Settings
from sandbox.dataset import Dataset

PRODUCT = "query ($sku: ID!) { product(sku: $sku) { name } stores { id } }"
FAST = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.02}


@pytest.fixture(scope="module")
def proxies(sandbox: Sandbox) -> Iterator[dict[str, FaultProxy]]:
    vendors = ("square", "shopify", "salesforce")
    with proxies_in_front_of({vendor: sandbox.url(vendor) for vendor in vendors}) as proxies:
        yield proxies


async def samples(gateway: Any, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The `name` samples on /metrics, keyed by their sorted labels."""
    text = (await gateway.http.get("/metrics")).text
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


async def circuits(gateway: Any) -> dict[str, str]:
    response = await gateway.http.get("/readyz")
    assert response.status_code == 200  # an open circuit never makes the pod unready
    return dict(response.json()["checks"]["circuits"])


def codes(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["extensions"]["code"], e["extensions"]["service"]) for e in body.get("errors", [])]


@pytest.fixture
def breaker_settings(settings: Settings, proxies: dict[str, FaultProxy]) -> Settings:
    return behind_proxies(
        settings,
        proxies,
        upstreams={
            "all": FAST,
            "shopify": {
                "retries": 0,
                "breaker_min_calls": 4,
                "breaker_failure_ratio": 0.5,
                "breaker_open_seconds": 0.5,
            },
        },
    )


async def open_shopify_circuit(gateway: Any, shopify: FaultProxy, sku: str) -> None:
    shopify.set(Fault.HTTP_500)
    for _ in range(4):
        body = await gateway.query(PRODUCT, {"sku": sku})
        assert codes(body) == [("UPSTREAM_UNAVAILABLE", "shopify")]
        assert body["data"]["stores"]
    assert (await circuits(gateway))["shopify"] == "open"


async def test_the_breaker_opens_fails_fast_and_closes_after_a_probe(
    breaker_settings: Settings, proxies: dict[str, FaultProxy], make_gateway: Any, dataset: Dataset
) -> None:
    shopify = proxies["shopify"]
    sku = dataset.products[0].sku
    async with make_gateway(breaker_settings) as gateway:
        assert await circuits(gateway) == {
            "square": "closed",
            "shopify": "closed",
            "salesforce": "closed",
        }
        await open_shopify_circuit(gateway, shopify, sku)
        opened = time.monotonic()

        shopify.reset_counts()
        started = time.monotonic()
        body = await gateway.query(PRODUCT, {"sku": sku})
        assert time.monotonic() - started < 0.1
        assert codes(body) == [("CIRCUIT_OPEN", "shopify")]
        assert body["data"]["product"] is None
        assert len(body["data"]["stores"]) == len(dataset.stores)
        assert shopify.seen() == 0  # not one request while open

        shopify.set(Fault.PASS)
        await asyncio.sleep(0.5 - (time.monotonic() - opened) + 0.02)
        assert (await circuits(gateway))["shopify"] == "half_open"
        body = await gateway.query(PRODUCT, {"sku": sku})
        assert "errors" not in body
        assert body["data"]["product"]["name"] == dataset.products[0].title
        assert shopify.seen() == 1  # the probe
        assert (await circuits(gateway))["shopify"] == "closed"

        state = await samples(gateway, "omnigate_upstream_circuit_state")
        transitions = await samples(gateway, "omnigate_upstream_circuit_transitions_total")
        rejected = await samples(gateway, "omnigate_upstream_rejected_calls_total")
    assert state[(("service", "shopify"), ("state", "closed"))] == 1
    assert state[(("service", "shopify"), ("state", "open"))] == 0
    assert {labels[1][1]: n for labels, n in transitions.items() if "shopify" in labels[0]} == {
        "open": 1,
        "half_open": 1,
        "closed": 1,
    }
    assert rejected == {(("reason", "circuit_open"), ("service", "shopify")): 1}


async def test_a_failed_probe_opens_the_circuit_again(
    breaker_settings: Settings, proxies: dict[str, FaultProxy], make_gateway: Any, dataset: Dataset
) -> None:
    shopify = proxies["shopify"]
    sku = dataset.products[0].sku
    async with make_gateway(breaker_settings) as gateway:
        await open_shopify_circuit(gateway, shopify, sku)
        await asyncio.sleep(0.55)
        shopify.reset_counts()
        probe = await gateway.query(PRODUCT, {"sku": sku})
        assert codes(probe) == [("UPSTREAM_UNAVAILABLE", "shopify")]
        after = await gateway.query(PRODUCT, {"sku": sku})
        assert codes(after) == [("CIRCUIT_OPEN", "shopify")]
        assert shopify.seen() == 1
        assert (await circuits(gateway))["shopify"] == "open"


async def test_a_read_that_fails_once_is_retried_and_counted(
    settings: Settings, proxies: dict[str, FaultProxy], make_gateway: Any, dataset: Dataset
) -> None:
    async with make_gateway(behind_proxies(settings, proxies, upstreams={"all": FAST})) as gw:
        proxies["shopify"].set(Fault.HTTP_500, times=1)
        body = await gw.query(PRODUCT, {"sku": dataset.products[1].sku})
        retries = await samples(gw, "omnigate_upstream_retries_total")
    assert "errors" not in body
    assert proxies["shopify"].seen(Fault.HTTP_500) == 1
    assert retries == {
        (
            ("operation", "shopify.products_by_sku"),
            ("reason", "UPSTREAM_UNAVAILABLE"),
            ("service", "shopify"),
        ): 1
    }


async def test_the_request_deadline_bounds_the_response_whatever_the_upstreams_do(
    settings: Settings,
    proxies: dict[str, FaultProxy],
    make_gateway: Any,
    sandbox: Sandbox,
    dataset: Dataset,
) -> None:
    """The upstreams' own deadlines are 5 s; the request's 0.5 s wins, and calls it cut are
    not held against the upstreams (their breakers would open at the first failure)."""
    budget = 0.5
    hanging = behind_proxies(
        settings,
        proxies,
        upstreams={"all": {"deadline_seconds": 5, "breaker_min_calls": 1}},
        request_deadline_seconds=budget,
    )
    query = """
    query ($sku: ID!, $customer: ID!) {
      product(sku: $sku) { name availability { online { quantity } } }
      customer(id: $customer) { email }
    }
    """
    staff = bearer(Tokens(sandbox).staff(dataset.stores[0].id))
    variables = {"sku": dataset.products[2].sku, "customer": dataset.crm_contacts[2].id}
    async with make_gateway(hanging) as gateway:
        proxies["square"].set(Fault.TIMEOUT)
        proxies["salesforce"].set(Fault.SLOW_DRIP, drip_interval=0.05)
        started = time.monotonic()
        body = await gateway.query(query, variables, headers=staff)
        elapsed = time.monotonic() - started
        assert await circuits(gateway) == {
            "square": "closed",
            "shopify": "closed",
            "salesforce": "closed",
        }
    assert elapsed <= budget + 0.1
    assert body["data"] == {
        "product": {"name": dataset.products[2].title, "availability": None},
        "customer": None,
    }
    assert sorted(codes(body)) == [
        ("UPSTREAM_TIMEOUT", "salesforce"),
        ("UPSTREAM_TIMEOUT", "square"),
    ]
