"""The Shopify simulator's physical retail, through the POS and inventory adapters and raw
Admin GraphQL: the dataset's stores and warehouse as Locations, stock as inventory levels,
the in-store receipts as POS orders, their cost, and the test controls (a stock count
with its inventory_levels/update webhook, a store order paid at the till)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectors.http import UpstreamHttp
from connectors.records import Channel, OrderQuery, StockLevel
from connectors.shopify import ShopifyInventory, ShopifyPos, ShopifySettings, retail_documents
from sandbox.dataset import Dataset, build_dataset
from sandbox.shopify import create_app
from sandbox.shopify.retail import INVENTORY_ITEM_BASE, LOCATION_BASE, location_gid

BASE = "http://shopify.test"
PATH = "/admin/api/2026-07/graphql.json"
TOKEN = {"X-Shopify-Access-Token": "shpat_sandbox"}


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture
def app(dataset: Dataset) -> Any:
    return create_app(dataset, public_url=BASE)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


@pytest.fixture
def http(client: httpx.AsyncClient) -> UpstreamHttp:
    return UpstreamHttp(client, service="shopify", base_url=BASE)


@pytest.fixture
def pos(http: UpstreamHttp) -> ShopifyPos:
    return ShopifyPos(http, ShopifySettings(base_url=BASE))


@pytest.fixture
def inventory(http: UpstreamHttp) -> ShopifyInventory:
    return ShopifyInventory(http, ShopifySettings(base_url=BASE))


async def gql(client: httpx.AsyncClient, document: str, **variables: Any) -> dict[str, Any]:
    body = {"query": document, "variables": variables}
    response = await client.post(PATH, json=body, headers=TOKEN)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_the_locations_are_the_dataset_s_stores_and_warehouse(
    pos: ShopifyPos, dataset: Dataset
) -> None:
    found = {loc.id: loc for loc in await pos.locations()}
    assert len(found) == len(dataset.locations)
    for index, location in enumerate(dataset.locations):
        record = found[location_gid(index)]
        assert (record.name, record.address.city, record.is_warehouse) == (
            location.name,
            location.locality,
            location.is_warehouse,
        )
        assert (record.latitude, record.longitude) == (location.latitude, location.longitude)


async def test_stock_is_the_dataset_s_counts_per_location_in_one_call(
    inventory: ShopifyInventory, dataset: Dataset, app: Any
) -> None:
    products = dataset.products[:20]
    levels = await inventory.stock([p.sku for p in products])
    expected = {
        StockLevel(p.sku, location_gid(index), quantity)
        for p in products
        for index, location in enumerate(dataset.locations)
        if (quantity := dataset.inventory.get((p.square_variation_id, location.id))) is not None
    }
    assert set(levels) == expected
    assert app.state.calls[f"POST {PATH}"] == 1


async def test_a_page_of_stock_costs_what_the_adapter_computed(client: httpx.AsyncClient) -> None:
    skus = [f"APP-{n:06d}" for n in range(1, 21)]
    body = await gql(
        client,
        retail_documents.STOCK_BY_SKU,
        first=20,
        query=" OR ".join(f"sku:{sku}" for sku in skus),
    )
    per_sku = 4 + 3 * retail_documents.LEVELS_PER_ITEM
    assert body["extensions"]["cost"]["requestedQueryCost"] == 2 + 20 * per_sku


async def test_a_quantity_name_shopify_does_not_keep_is_refused(client: httpx.AsyncClient) -> None:
    body = await gql(
        client,
        "query ($id: ID!) { inventoryItem(id: $id) { inventoryLevels(first: 1) { edges { node {"
        ' quantities(names: ["sellable"]) { quantity } } } } } }',
        id=f"gid://shopify/InventoryItem/{INVENTORY_ITEM_BASE}",
    )
    assert "Invalid quantity names: sellable" in body["errors"][0]["message"]


async def test_pos_receipts_carry_their_store_and_staff_and_search_by_source(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    body = await gql(
        client,
        '{ orders(first: 5, query: "source_name:pos") { edges { node { sourceName'
        " retailLocation { id } staffMember { name } app { name } } } } }",
    )
    nodes = [edge["node"] for edge in body["data"]["orders"]["edges"]]
    assert len(nodes) == 5
    assert {node["sourceName"] for node in nodes} == {"pos"}
    assert all(node["retailLocation"] and node["staffMember"]["name"] for node in nodes)
    assert {node["app"]["name"] for node in nodes} == {"Point of Sale"}
    online = await gql(
        client,
        '{ orders(first: 5, query: "-source_name:pos") { edges { node { sourceName } } } }',
    )
    assert {edge["node"]["sourceName"] for edge in online["data"]["orders"]["edges"]} == {"web"}
    first_store = dataset.locations.index(dataset.stores[0])
    at_store = await gql(
        client,
        "query ($q: String!) { orders(first: 3, query: $q) {"
        " edges { node { retailLocation { id } } } } }",
        q=f"source_name:pos location_id:{LOCATION_BASE + first_store}",
    )
    edges = at_store["data"]["orders"]["edges"]
    assert edges
    assert {e["node"]["retailLocation"]["id"] for e in edges} == {location_gid(first_store)}


async def test_a_person_s_receipts_are_their_shopify_customer_s(
    pos: ShopifyPos, dataset: Dataset
) -> None:
    shop_of = {c.person_key: c.id for c in dataset.shop_customers}
    receipt = next(
        o
        for o in dataset.pos_orders
        if next(c.person_key for c in dataset.pos_customers if c.id == o.customer_id) in shop_of
    )
    person = next(c.person_key for c in dataset.pos_customers if c.id == receipt.customer_id)
    customer = f"gid://shopify/Customer/{shop_of[person]}"
    found = await pos.orders(OrderQuery((customer,), 50))
    expected = [o for o in dataset.pos_orders if o.customer_id == receipt.customer_id]
    assert len(found) == len(expected)
    assert all(o.channel is Channel.STORE and o.customer_ref for o in found)
    assert sorted(o.total.amount for o in found) == sorted(
        sum(li.unit_price * li.quantity for li in o.line_items) for o in expected
    )


async def test_a_stock_count_changes_the_level_and_sends_the_webhook(
    client: httpx.AsyncClient, inventory: ShopifyInventory, dataset: Dataset, app: Any
) -> None:
    product = dataset.products[5]
    index = next(
        i
        for i, loc in enumerate(dataset.locations)
        if (product.square_variation_id, loc.id) in dataset.inventory
    )
    delivered: list[tuple[str, dict[str, Any]]] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        """The subscribed app's endpoint: it keeps what it was sent."""
        delivered.append((request.headers["x-shopify-topic"], json.loads(request.content)))
        return httpx.Response(200)

    app.state.shopify_webhooks.append(("inventory_levels/update", "http://receiver.test/hook"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as sender:
        app.state.webhook_sender = sender
        changed = await client.post(
            f"/_sandbox/shopify/inventory/{product.sku}/{LOCATION_BASE + index}",
            json={"available": 4},
        )
    assert changed.status_code == 200, changed.text
    assert changed.json()["deliveries"] == [200]
    assert StockLevel(product.sku, location_gid(index), 4) in await inventory.stock([product.sku])
    ((topic, level),) = delivered
    assert topic == "inventory_levels/update"
    assert (level["inventory_item_id"], level["location_id"], level["available"]) == (
        INVENTORY_ITEM_BASE + 5,
        LOCATION_BASE + index,
        4,
    )
    missing = await client.post(
        f"/_sandbox/shopify/inventory/NOPE/{LOCATION_BASE}", json={"available": 1}
    )
    assert missing.status_code == 404


ADJUST = """
mutation ($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id changes { delta quantityAfterChange } }
    userErrors { field message code }
  }
}
"""


def adjustment(item: str, location: str, delta: int, **change: Any) -> dict[str, Any]:
    return {
        "name": "available",
        "reason": "restock",
        "changes": [
            {
                "inventoryItemId": item,
                "locationId": location,
                "delta": delta,
                "changeFromQuantity": None,
                **change,
            }
        ],
    }


async def test_an_adjustment_applies_once_per_key_and_refuses_another_input(
    client: httpx.AsyncClient, dataset: Dataset, app: Any
) -> None:
    product = dataset.products[7]
    index = next(
        i
        for i, loc in enumerate(dataset.locations)
        if (product.square_variation_id, loc.id) in dataset.inventory
    )
    before = dataset.inventory[product.square_variation_id, dataset.locations[index].id]
    item, location = f"gid://shopify/InventoryItem/{INVENTORY_ITEM_BASE + 7}", location_gid(index)
    first = await gql(client, ADJUST, input=adjustment(item, location, 3), key="k-1")
    again = await gql(client, ADJUST, input=adjustment(item, location, 3), key="k-1")
    assert first["data"] == again["data"]
    group = first["data"]["inventoryAdjustQuantities"]["inventoryAdjustmentGroup"]
    assert group["changes"] == [{"delta": 3, "quantityAfterChange": before + 3}]
    other = await gql(client, ADJUST, input=adjustment(item, location, 4), key="k-1")
    (error,) = other["data"]["inventoryAdjustQuantities"]["userErrors"]
    assert error["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    stale = await gql(
        client, ADJUST, input=adjustment(item, location, 1, changeFromQuantity=0), key="k-2"
    )
    (error,) = stale["data"]["inventoryAdjustQuantities"]["userErrors"]
    assert error["code"] == "CHANGE_FROM_QUANTITY_STALE"
    levels = app.state.shop.retail.levels(item)
    level = next(lv for lv in levels if lv["location"]["id"] == location)
    assert level["_quantities"]["available"] == before + 3


async def test_an_adjustment_needs_a_key_and_a_stocked_item(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    number, unranged = next(
        (n, i)
        for n, p in enumerate(dataset.products)
        for i, loc in enumerate(dataset.locations)
        if (p.square_variation_id, loc.id) not in dataset.inventory
    )
    item = f"gid://shopify/InventoryItem/{INVENTORY_ITEM_BASE + number}"
    unkeyed = await gql(
        client,
        "mutation ($input: InventoryAdjustQuantitiesInput!) {"
        " inventoryAdjustQuantities(input: $input) { userErrors { code } } }",
        input=adjustment(item, location_gid(0), 1),
    )
    assert "idempotency key" in unkeyed["errors"][0]["message"]
    refused = await gql(client, ADJUST, input=adjustment(item, location_gid(unranged), 1), key="k")
    (error,) = refused["data"]["inventoryAdjustQuantities"]["userErrors"]
    assert error["code"] == "ITEM_NOT_STOCKED_AT_LOCATION"
    reason = {**adjustment(item, location_gid(0), 1), "reason": "gift"}
    wrong = await gql(client, ADJUST, input=reason, key="k-3")
    assert wrong["data"]["inventoryAdjustQuantities"]["userErrors"][0]["code"] == "INVALID_REASON"
