"""A failed upstream gives partial data with the failed field's error, inside the request's
deadline, whichever system of the set fails; and a set speaks only to its own systems."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fault_proxy import Fault, FaultProxy, behind_proxies, proxies_in_front_of
from profile_support import ME

from behaviour.retailer import Retailer

PAGE = """{ products(first: 3) { edges { node {
  sku name availability { online { quantity } stores(first: 3) { quantity } }
} } } }"""
ME_WITH_ORDERS = "{ me { id givenName orders(first: 2) { edges { node { id } } } } }"
# tight on the faulted system only, so a slow first answer elsewhere is not the fault
RESILIENCE = {
    "deadline_seconds": 0.5,
    "connect_timeout_seconds": 0.2,
    "retries": 1,
    "backoff_base_seconds": 0.02,
    "backoff_max_seconds": 0.05,
    "breaker_min_calls": 1000,
}


@pytest.fixture
def failing(retailer: Retailer, request: pytest.FixtureRequest) -> Iterator[FaultProxy]:
    """A proxy in front of the simulator answering the port the test names (indirect)."""
    vendor = retailer.vendor_set.simulators[request.param]
    with proxies_in_front_of({vendor: retailer.sandbox.url(vendor)}) as proxies:
        yield proxies[vendor]


def through(retailer: Retailer, proxy: FaultProxy, port: str):
    vendor = retailer.vendor_set.simulators[port]
    chosen = behind_proxies(retailer.settings, {vendor: proxy}, upstreams={vendor: RESILIENCE})
    return retailer.other_gateway(chosen)


@pytest.mark.parametrize("failing", ["inventory"], indirect=True)
async def test_stock_failing_leaves_the_products_with_each_availabilitys_error(
    retailer: Retailer, failing: FaultProxy
):
    async with through(retailer, failing, "inventory") as gateway:
        assert "errors" not in await gateway.query(PAGE)  # the stores are known now
        failing.set(Fault.HTTP_500)
        body = await gateway.query(PAGE)
    if retailer.vendor_set.excepts("stock-from-the-catalog-system"):
        assert body["data"] is None  # `products` is non-null: its failure nulls the answer
        [error] = body["errors"]
        assert error["path"] == ["products"]
        assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        return
    nodes = [edge["node"] for edge in body["data"]["products"]["edges"]]
    assert [(bool(node["name"]), node["availability"]) for node in nodes] == [(True, None)] * 3
    assert [error["path"] for error in body["errors"]] == [
        ["products", "edges", index, "node", "availability"] for index in range(3)
    ]
    assert {error["extensions"]["code"] for error in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}


@pytest.mark.parametrize("failing", ["pos"], indirect=True)
async def test_the_pos_failing_leaves_the_profile_and_nulls_the_orders(
    retailer: Retailer, failing: FaultProxy
):
    contact = retailer.buyer(5)
    shopper = retailer.shopper(contact)
    async with through(retailer, failing, "pos") as gateway:
        headers = shopper.headers
        assert "errors" not in await gateway.query(ME, headers=headers)  # the profile cached
        failing.set(Fault.REFUSE)
        body = await gateway.query(ME_WITH_ORDERS, headers=headers)
    me = body["data"]["me"]
    assert (me["id"], me["givenName"]) == (retailer.crm.id_of(contact), contact.first_name)
    assert me["orders"] is None
    [error] = body["errors"]
    assert error["path"] == ["me", "orders"]
    vendor = retailer.vendor_set.simulators["pos"]
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "service": vendor}


@pytest.mark.parametrize("failing", ["crm"], indirect=True)
async def test_the_crm_failing_with_no_copy_nulls_me_with_its_error(
    retailer: Retailer, failing: FaultProxy
):
    shopper = retailer.shopper(retailer.buyer(6))
    async with through(retailer, failing, "crm") as gateway:
        failing.set(Fault.REFUSE)
        body = await gateway.query(ME, headers=shopper.headers)
    assert body["data"] == {"me": None}
    [error] = body["errors"]
    assert error["path"] == ["me"]
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "service": retailer.crm.vendor}


async def test_the_set_speaks_only_to_its_own_systems(retailer: Retailer):
    retailer.sandbox.reset_calls()
    shopper = retailer.shopper(retailer.buyer(7))
    body = await shopper.raw(ME_WITH_ORDERS.replace("id givenName", "id loyalty { balance }"))
    assert "errors" not in body, body
    assert "errors" not in await retailer.client.query(PAGE)
    spoken_to = {
        vendor
        for vendor in retailer.sandbox.apps
        if vendor != "identity" and retailer.sandbox.total_calls(vendor)
    }
    assert spoken_to == retailer.vendor_set.vendors
