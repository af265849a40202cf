"""Where can I get it today: `stores(near:, withinKm:, withStock:)` against the sandbox POS
and inventory, stock counted net of pickup holds in a real mongod."""

from __future__ import annotations

import math
from typing import Any

import pytest
from cart_api import CART_CREATE, LINES_ADD, SET_FULFILLMENT, Device, stock_at

from sandbox.dataset import Dataset

NEAR = """
query ($near: GeoPointInput, $within: Float, $skus: [ID!], $stockOf: [ID!]!) {
  stores(near: $near, withinKm: $within, withStock: $skus) {
    id name latitude longitude distanceKm stock(skus: $stockOf) { sku quantity }
  }
}
"""


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The spherical law of cosines: another formula than the gateway's haversine."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    cos = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371.0088 * math.acos(max(-1.0, min(1.0, cos)))


async def near(gateway: Any, **variables: Any) -> Any:
    variables.setdefault("stockOf", [])
    return await gateway.query(NEAR, variables)


async def test_stores_near_a_point_come_nearest_first_with_their_distance(gateway, dataset):
    new_york = next(s for s in dataset.stores if s.name == "Omni New York")
    point = {"latitude": new_york.latitude + 0.01, "longitude": new_york.longitude}
    body = await near(gateway, near=point)
    stores = body["data"]["stores"]
    assert {s["id"] for s in stores} == {s.id for s in dataset.stores}
    assert stores[0]["name"] == "Omni New York"
    distances = [s["distanceKm"] for s in stores]
    assert distances == sorted(distances)
    for store in stores:
        expected = great_circle_km(
            point["latitude"], point["longitude"], store["latitude"], store["longitude"]
        )
        assert store["distanceKm"] == pytest.approx(expected, rel=1e-6, abs=1e-6)
    # about 1.1 km north of the store, and New York to Los Angeles is about 3,900 km
    assert stores[0]["distanceKm"] == pytest.approx(1.11, abs=0.01)
    assert stores[-1]["distanceKm"] > 3500

    within = (await near(gateway, near=point, within=10))["data"]["stores"]
    assert [s["name"] for s in within] == ["Omni New York", "Omni Brooklyn"]
    assert all(s["distanceKm"] <= 10 for s in within)

    # without `near` the list is the plain one, by name, with no distance
    plain = (await near(gateway))["data"]["stores"]
    assert [s["name"] for s in plain] == sorted(s.name for s in dataset.stores)
    assert {s["distanceKm"] for s in plain} == {None}


def sku_at_some_stores(dataset: Dataset) -> tuple[str, str]:
    """A SKU some stores have none of, and a store with exactly one unit of it."""
    for product in dataset.products:
        counts = {s.id: stock_at(dataset, product.sku, s.id) for s in dataset.stores}
        ones = [store for store, count in counts.items() if count == 1]
        if ones and 0 in counts.values():
            return product.sku, ones[0]
    raise AssertionError("no SKU both missing somewhere and down to one unit elsewhere")


async def test_with_stock_keeps_the_stores_that_have_it_net_of_pickup_holds(gateway, dataset):
    sku, last_store = sku_at_some_stores(dataset)
    point = {"latitude": 40.75, "longitude": -74.0}
    having = {s.id for s in dataset.stores if stock_at(dataset, sku, s.id) > 0}
    body = await near(gateway, near=point, skus=[sku], stockOf=[sku])
    stores = body["data"]["stores"]
    assert {s["id"] for s in stores} == having
    assert [s["distanceKm"] for s in stores] == sorted(s["distanceKm"] for s in stores)
    for store in stores:
        assert store["stock"] == [{"sku": sku, "quantity": stock_at(dataset, sku, store["id"])}]

    # a pickup cart holds the last unit of one store: that store no longer has it to offer
    created = (await Device(gateway, {}).run(CART_CREATE))["cartCreate"]
    holder = Device(gateway, {"x-cart-token": created["cartToken"]})
    cart_id = created["cart"]["id"]
    picked = await holder.run(SET_FULFILLMENT, cartId=cart_id, type="PICKUP", storeId=last_store)
    assert picked["cartSetFulfillment"]["userErrors"] == []
    added = await holder.run(LINES_ADD, cartId=cart_id, lines=[{"sku": sku}])
    assert added["cartLinesAdd"]["userErrors"] == []

    after = (await near(gateway, near=point, skus=[sku], stockOf=[sku]))["data"]["stores"]
    assert {s["id"] for s in after} == having - {last_store}
    everywhere = (await near(gateway, near=point, stockOf=[sku]))["data"]["stores"]
    held_store = next(s for s in everywhere if s["id"] == last_store)
    assert held_store["stock"] == [{"sku": sku, "quantity": 0}]


@pytest.mark.parametrize(
    ("variables", "field", "reason"),
    [
        ({"near": {"latitude": 91, "longitude": 0}}, "near.latitude", "INVALID_LATITUDE"),
        ({"near": {"latitude": -90.5, "longitude": 0}}, "near.latitude", "INVALID_LATITUDE"),
        ({"near": {"latitude": 0, "longitude": 180.01}}, "near.longitude", "INVALID_LONGITUDE"),
        ({"near": {"latitude": 0, "longitude": 0}, "within": 0}, "withinKm", "INVALID_DISTANCE"),
        ({"near": {"latitude": 0, "longitude": 0}, "within": -5}, "withinKm", "INVALID_DISTANCE"),
        ({"within": 10}, "withinKm", "NEAR_REQUIRED"),
        ({"skus": [" "]}, "withStock", "INVALID_SKUS"),
        ({"skus": [f"SKU-{i}" for i in range(51)]}, "withStock", "INVALID_SKUS"),
    ],
)
async def test_bad_coordinates_and_distances_are_bad_user_input(
    gateway, sandbox, variables, field, reason
):
    sandbox.reset_calls()
    body = await near(gateway, **variables)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert (error["extensions"]["field"], error["extensions"]["reason"]) == (field, reason)
    # refused before any inventory read
    assert sandbox.total_calls("square") == 0


async def test_a_latitude_that_is_no_number_is_refused_by_validation(gateway):
    body = await gateway.query(NEAR, {"near": {"latitude": "north", "longitude": 0}, "stockOf": []})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
