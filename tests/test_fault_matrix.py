"""Every fault the proxy can play, in front of each upstream in turn, through the gateway.

One query reads a field from each upstream: `product.name` (Shopify), `product.availability`
(Square inventory), `customer` (Salesforce, the system of record). With one upstream
failing, its field is null with one error at its path carrying `code` and `service`, the
other fields answer exactly what they answer with no fault, no vendor text leaks, and the
response comes within the request deadline plus 100 ms.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Sandbox, Tokens, bearer
from fault_proxy import VENDOR_500, Fault, FaultProxy, behind_proxies, proxies_in_front_of

from gateway.settings import Settings
from sandbox.dataset import Dataset

VENDORS = ("square", "shopify", "salesforce")
# The profile reads the CRM first and the POS and shop after it: the request's budget leaves
# those healthy calls room after a CRM call cut at its own deadline, even on a busy machine.
REQUEST_DEADLINE = 1.0
UPSTREAM_DEADLINE = 0.4
# The healthy upstreams' own deadline: room for a loaded machine (a CI run shared with
# other suites once took Shopify past 0.4 s), still inside the request's.
HEALTHY_DEADLINE = 0.8
SLACK = 0.1
RESILIENCE = {
    "deadline_seconds": UPSTREAM_DEADLINE,
    "connect_timeout_seconds": 0.2,
    "retries": 2,
    "backoff_base_seconds": 0.02,
    "backoff_max_seconds": 0.1,
    "breaker_min_calls": 1000,  # the breaker has its own tests; here every call goes out
}

QUERY = """
query ($sku: ID!, $customer: ID!) {
  product(sku: $sku) { sku name availability { online { quantity } } }
  customer(id: $customer) { id email familyName }
}
"""
# the field each upstream's failure nulls
FAILED_PATH = {
    "shopify": ["product"],
    "square": ["product", "availability"],
    "salesforce": ["customer"],
}

FAULTS: dict[Fault, tuple[str, dict[str, Any]]] = {
    Fault.HTTP_500: ("UPSTREAM_UNAVAILABLE", {}),
    Fault.THROTTLE_429: ("UPSTREAM_THROTTLED", {"retry_after": 1}),  # beyond the deadline
    Fault.MALFORMED_JSON: ("UPSTREAM_UNAVAILABLE", {}),
    Fault.WRONG_CONTENT_TYPE: ("UPSTREAM_UNAVAILABLE", {}),
    Fault.RESET: ("UPSTREAM_UNAVAILABLE", {}),
    Fault.CLOSE: ("UPSTREAM_UNAVAILABLE", {}),
    Fault.TRUNCATED: ("UPSTREAM_UNAVAILABLE", {}),
    Fault.REFUSE: ("UPSTREAM_UNAVAILABLE", {}),
    Fault.TIMEOUT: ("UPSTREAM_TIMEOUT", {}),
    # a byte every 0.1 s: far inside any per-read timeout, so only the deadline ends it
    Fault.SLOW_DRIP: ("UPSTREAM_TIMEOUT", {"drip_interval": 0.1}),
}


@pytest.fixture(scope="module")
def proxies(sandbox: Sandbox) -> Iterator[dict[str, FaultProxy]]:
    with proxies_in_front_of({vendor: sandbox.url(vendor) for vendor in VENDORS}) as proxies:
        yield proxies


def faulty(settings: Settings, proxies: dict[str, FaultProxy], vendor: str) -> Settings:
    """The gateway behind the proxies, `vendor` under the deadline its fault plays against."""
    healthy = {other: {"deadline_seconds": HEALTHY_DEADLINE} for other in VENDORS}
    return behind_proxies(
        settings,
        proxies,
        upstreams={"all": RESILIENCE, **healthy, vendor: {}},
        request_deadline_seconds=REQUEST_DEADLINE,
    )


@pytest.fixture(scope="module")
def staff(sandbox: Sandbox, dataset: Dataset) -> dict[str, str]:
    return bearer(Tokens(sandbox).staff(dataset.stores[0].id))


@pytest.fixture(scope="module")
def variables(dataset: Dataset) -> dict[str, str]:
    return {"sku": dataset.products[3].sku, "customer": dataset.crm_contacts[3].id}


@pytest.fixture(scope="module")
def baseline() -> dict[str, Any]:
    """Filled by the first test to need it: what the query answers with every upstream up."""
    return {}


async def healthy_answer(
    gateway: Any, baseline: dict[str, Any], variables: dict[str, str], staff: dict[str, str]
) -> dict[str, Any]:
    # The warm-up is not under test: a cold first call on a busy machine can overrun the
    # tight upstream deadline these tests set, so it gets a few tries to come back whole.
    for _ in range(3):
        body = await gateway.query(QUERY, variables, headers=staff)
        if "errors" not in body:
            break
    assert "errors" not in body, body
    assert body["data"]["product"]["availability"] is not None
    assert body["data"]["customer"]["id"] == variables["customer"]
    baseline.setdefault("data", body["data"])
    assert body["data"] == baseline["data"]
    return dict(body["data"])


def without(data: dict[str, Any], path: list[str]) -> dict[str, Any]:
    """`data` with the field at `path` null."""
    copy = json.loads(json.dumps(data))
    holder = copy
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = None
    return dict(copy)


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("fault", list(FAULTS), ids=[f.value for f in FAULTS])
async def test_one_failing_upstream_nulls_only_its_field(
    settings: Settings,
    proxies: dict[str, FaultProxy],
    make_gateway: Any,
    staff: dict[str, str],
    variables: dict[str, str],
    baseline: dict[str, Any],
    dataset: Dataset,
    fault: Fault,
    vendor: str,
    request: pytest.FixtureRequest,
) -> None:
    uncached_customer = dataset.crm_contacts[4].id
    code, options = FAULTS[fault]
    if fault is Fault.HTTP_500:
        options = {"body": VENDOR_500[vendor]}
    async with make_gateway(faulty(settings, proxies, vendor)) as gateway:
        # Square's SKU mappings and the customer's cached profile warm up, so only the
        # faulty upstream is called below (a profile miss reads every upstream). The CRM
        # case asks for another, uncached customer: the CRM is the profile's source.
        healthy = await healthy_answer(gateway, baseline, variables, staff)
        if vendor == "salesforce":
            variables = {**variables, "customer": uncached_customer}
        proxies[vendor].set(fault, **options)
        started = time.monotonic()
        body = await gateway.query(QUERY, variables, headers=staff)
        elapsed = time.monotonic() - started
    request.node.user_properties.append(("latency_seconds", round(elapsed, 3)))

    assert body["data"] == without(healthy, FAILED_PATH[vendor])
    [error] = body["errors"]
    assert error["path"] == FAILED_PATH[vendor]
    assert error["extensions"] == {"code": code, "service": vendor}
    assert set(error) == {"message", "locations", "path", "extensions"}
    public = json.dumps(body)
    for leak in ("fault proxy", "127.0.0.1", "INTERNAL_SERVER_ERROR", "unexpected error"):
        assert leak not in public
    assert elapsed <= REQUEST_DEADLINE + SLACK
    assert proxies[vendor].seen() >= (0 if fault is Fault.REFUSE else 1)
