"""The Shopify POS and inventory adapters' side of the Admin GraphQL API contract, against
recorded-style answers: every request they send validates against Shopify's official
Admin schema for the pinned version (documents and variables), the batching and paging
they promise, and how each answer is read."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr
from shopify_admin import official_admin_schema, request_problems

from connectors.errors import IdempotencyKeyReused, UpstreamRejected, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.records import (
    Channel,
    ExternalRef,
    Money,
    OrderDraft,
    OrderLineDraft,
    OrderPaymentState,
    OrderQuery,
    Restock,
    StockLevel,
    System,
)
from connectors.shopify import (
    ShopifyInventory,
    ShopifyPos,
    ShopifySettings,
    order_input,
    retail_documents,
)

SHOP = "https://omni-test.myshopify.com"
PATH = "/admin/api/2026-07/graphql.json"
WAREHOUSE = "gid://shopify/Location/900"
SETTINGS = ShopifySettings(
    base_url=SHOP,
    access_token=SecretStr("shpat_contract"),
    api_version="2026-07",
    online_location_id=WAREHOUSE,
)


@pytest.fixture
async def mocked() -> AsyncIterator[respx.MockRouter]:
    async with respx.mock(base_url=SHOP, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def http(mocked: respx.MockRouter) -> AsyncIterator[UpstreamHttp]:
    async with httpx.AsyncClient() as client:
        yield UpstreamHttp(client, service="shopify", base_url=SHOP)


@pytest.fixture
def pos(http: UpstreamHttp) -> ShopifyPos:
    return ShopifyPos(http, SETTINGS)


@pytest.fixture
def inventory(http: UpstreamHttp) -> ShopifyInventory:
    return ShopifyInventory(http, SETTINGS)


def sent(call: Any) -> dict[str, Any]:
    """The request body, after checking it against the official schema."""
    body: dict[str, Any] = json.loads(call.request.content)
    assert request_problems(official_admin_schema(), body) == []
    assert call.request.headers["X-Shopify-Access-Token"] == "shpat_contract"
    return body


def answer(data: dict[str, Any]) -> httpx.Response:
    cost = {
        "requestedQueryCost": 10,
        "actualQueryCost": 10,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 1990,
            "restoreRate": 100.0,
        },
    }
    return httpx.Response(200, json={"data": data, "extensions": {"cost": cost}})


def page(items: list[dict[str, Any]], cursor: str | None = None) -> dict[str, Any]:
    return {
        "edges": [{"node": item} for item in items],
        "pageInfo": {"hasNextPage": cursor is not None, "endCursor": cursor},
    }


# --- locations ---------------------------------------------------------------------------


def location(number: int, name: str, *, active: bool = True) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Location/{number}",
        "name": name,
        "isActive": active,
        "address": {
            "address1": "1 Main St",
            "address2": None,
            "city": "Boston",
            "provinceCode": "MA",
            "zip": "02108",
            "countryCode": "US",
            "phone": "+16175550100",
            "latitude": 42.35,
            "longitude": -71.06,
        },
    }


async def test_locations_are_the_active_ones_paged_with_the_warehouse_marked(
    mocked: respx.MockRouter, pos: ShopifyPos
) -> None:
    route = mocked.post(PATH).mock(
        side_effect=[
            answer(
                {
                    "shop": {"ianaTimezone": "America/New_York"},
                    "locations": page(
                        [location(1, "Omni Boston"), location(2, "Closed", active=False)], "c1"
                    ),
                }
            ),
            answer(
                {
                    "shop": {"ianaTimezone": "America/New_York"},
                    "locations": page([location(900, "Warehouse")]),
                }
            ),
        ]
    )
    found = await pos.locations()

    assert route.call_count == 2
    first, second = (sent(call) for call in route.calls)
    assert first["variables"] == {"first": 250, "after": None}
    assert second["variables"] == {"first": 250, "after": "c1"}
    assert [(loc.id, loc.name, loc.is_warehouse) for loc in found] == [
        ("gid://shopify/Location/1", "Omni Boston", False),
        (WAREHOUSE, "Warehouse", True),
    ]
    boston = found[0]
    assert (boston.address.city, boston.address.region, boston.address.postal_code) == (
        "Boston",
        "MA",
        "02108",
    )
    assert (boston.timezone, boston.latitude, boston.opening_hours) == (
        "America/New_York",
        42.35,
        (),
    )
    assert boston.external_refs == (ExternalRef(System.SHOPIFY, "gid://shopify/Location/1"),)


async def test_a_location_without_its_address_is_the_upstream_s_failure(
    mocked: respx.MockRouter, pos: ShopifyPos
) -> None:
    broken = {"id": "gid://shopify/Location/1", "name": "x", "isActive": True}
    mocked.post(PATH).mock(
        return_value=answer({"shop": {"ianaTimezone": "UTC"}, "locations": page([broken])})
    )
    with pytest.raises(UpstreamUnavailable):
        await pos.locations()


# --- store sales ---------------------------------------------------------------------------


def receipt(number: int, source: str = "pos", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{number}",
        "createdAt": "2026-10-01T12:00:00Z",
        "sourceName": source,
        "retailLocation": {"id": "gid://shopify/Location/1"} if source == "pos" else None,
        "staffMember": {"name": "Alex Rivera"} if source == "pos" else None,
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "FULFILLED",
        "customAttributes": [],
        "fulfillments": [],
        "totalPriceSet": {"shopMoney": {"amount": "20.00", "currencyCode": "USD"}},
        "customer": {"id": "gid://shopify/Customer/7"},
        "lineItems": page(
            [
                {
                    "sku": "A-1",
                    "name": "A one",
                    "quantity": 2,
                    "originalUnitPriceSet": {
                        "shopMoney": {"amount": "10.00", "currencyCode": "USD"}
                    },
                }
            ]
        ),
        **extra,
    }


async def test_store_sales_are_searched_by_customer_and_source_and_read_with_store_and_staff(
    mocked: respx.MockRouter, pos: ShopifyPos
) -> None:
    route = mocked.post(PATH).mock(return_value=answer({"orders": page([receipt(1)])}))
    found = await pos.orders(OrderQuery(("gid://shopify/Customer/7", "8"), limit=5))

    body = sent(route.calls.last)
    assert body["variables"]["query"] == (
        '(customer_id:"7" OR customer_id:"8") (source_name:pos OR source_name:omnigate_store)'
    )
    assert body["variables"]["first"] == 5
    (order,) = found
    assert (order.channel, order.location_id, order.staff_name) == (
        Channel.STORE,
        "gid://shopify/Location/1",
        "Alex Rivera",
    )
    assert order.payment is OrderPaymentState.PAID
    assert order.lines[0].total == Money(order.lines[0].unit_price.amount * 2, "USD")


async def test_a_store_sale_omnigate_placed_names_its_store_in_an_attribute(
    mocked: respx.MockRouter, pos: ShopifyPos
) -> None:
    placed = receipt(
        2,
        source=order_input.STORE_SOURCE_NAME,
        customAttributes=[{"key": "store_location_id", "value": "gid://shopify/Location/3"}],
    )
    mocked.post(PATH).mock(return_value=answer({"orders": page([placed])}))
    (order,) = await pos.orders(OrderQuery(("7",), limit=5))
    assert (order.channel, order.location_id) == (Channel.STORE, "gid://shopify/Location/3")


async def test_an_online_order_is_no_receipt(mocked: respx.MockRouter, pos: ShopifyPos) -> None:
    transactions: list[dict[str, Any]] = []
    online = receipt(3, source="web", transactions=transactions)
    route = mocked.post(PATH).mock(return_value=answer({"order": online}))
    assert await pos.order("gid://shopify/Order/3") is None
    sent(route.calls.last)
    assert await pos.order("not-a-shopify-id") is None
    assert route.call_count == 1


# --- placing a store order ------------------------------------------------------------------


def draft(key: str = "till-1") -> OrderDraft:
    return OrderDraft(
        idempotency_key=key,
        customer_refs=(ExternalRef(System.SHOPIFY, "gid://shopify/Customer/7"),),
        lines=(OrderLineDraft("A-1", 2, Money(Decimal("10.00"), "USD")),),
        currency="USD",
        location_id="gid://shopify/Location/1",
        pickup=False,
    )


async def test_a_store_order_is_placed_once_with_its_store_and_source(
    mocked: respx.MockRouter, pos: ShopifyPos
) -> None:
    created = receipt(
        4,
        source=order_input.STORE_SOURCE_NAME,
        displayFinancialStatus="PENDING",
        customAttributes=[{"key": "store_location_id", "value": "gid://shopify/Location/1"}],
    )
    created.pop("retailLocation")
    created.pop("staffMember")
    route = mocked.post(PATH).mock(
        side_effect=[
            answer(
                {"productVariants": page([{"id": "gid://shopify/ProductVariant/11", "sku": "A-1"}])}
            ),
            answer({"orderByIdentifier": None}),
            answer({"orderCreate": {"order": created, "userErrors": []}}),
        ]
    )
    order = await pos.place_order(draft())

    _variants, lookup, create = (sent(call) for call in route.calls)
    assert lookup["variables"]["identifier"]["customId"]["value"] == "till-1"
    placed = create["variables"]["order"]
    assert placed["sourceName"] == "omnigate_store"
    assert placed["customAttributes"] == [
        {"key": "store_location_id", "value": "gid://shopify/Location/1"}
    ]
    assert placed["financialStatus"] == "PENDING"
    assert placed["lineItems"][0]["variantId"] == "gid://shopify/ProductVariant/11"
    assert {m["key"] for m in placed["metafields"]} == {"checkout_key", "checkout_fingerprint"}
    assert (order.channel, order.location_id) == (Channel.STORE, "gid://shopify/Location/1")
    assert order.payment is OrderPaymentState.PENDING


async def test_a_key_already_placed_from_another_draft_is_refused(
    mocked: respx.MockRouter, pos: ShopifyPos
) -> None:
    existing = receipt(5, source=order_input.STORE_SOURCE_NAME, fingerprint={"value": "other"})
    route = mocked.post(PATH).mock(
        side_effect=[
            answer({"productVariants": page([])}),
            answer({"orderByIdentifier": existing}),
        ]
    )
    with pytest.raises(IdempotencyKeyReused):
        await pos.place_order(draft())
    assert route.call_count == 2  # nothing created


# --- stock ----------------------------------------------------------------------------------


def level(location_number: int, available: int) -> dict[str, Any]:
    return {
        "location": {"id": f"gid://shopify/Location/{location_number}"},
        "quantities": [{"name": "available", "quantity": available}],
    }


def stocked(sku: str, item: int, levels: list[dict[str, Any]], more: str | None = None) -> Any:
    return {
        "sku": sku,
        "inventoryItem": {
            "id": f"gid://shopify/InventoryItem/{item}",
            "inventoryLevels": page(levels, more),
        },
    }


async def test_a_page_of_skus_is_one_stock_call_with_every_location(
    mocked: respx.MockRouter, inventory: ShopifyInventory
) -> None:
    skus = [f"S-{n}" for n in range(20)]
    nodes = [stocked(sku, n, [level(1, n), level(900, -2)]) for n, sku in enumerate(skus)]
    nodes.append(stocked("S-10X", 99, [level(1, 5)]))  # the search matches more loosely
    route = mocked.post(PATH).mock(return_value=answer({"productVariants": page(nodes)}))

    found = await inventory.stock(skus)

    assert route.call_count == 1
    body = sent(route.calls.last)
    assert body["variables"]["first"] == 20
    assert body["variables"]["query"] == " OR ".join(f'sku:"{sku}"' for sku in skus)
    assert StockLevel("S-3", "gid://shopify/Location/1", 3) in found
    # an oversold level sells nothing; a SKU not asked for is left out
    assert StockLevel("S-3", WAREHOUSE, 0) in found
    assert {level.sku for level in found} == set(skus)


async def test_more_skus_than_one_call_holds_are_split_and_locations_filtered(
    mocked: respx.MockRouter, inventory: ShopifyInventory
) -> None:
    size = retail_documents.SKUS_PER_STOCK_CALL
    skus = [f"S-{n}" for n in range(size + 3)]

    def answer_for(request: httpx.Request) -> httpx.Response:
        asked = json.loads(request.content)["variables"]["query"].split(" OR ")
        nodes = [stocked(term[5:-1], n, [level(1, 4), level(2, 6)]) for n, term in enumerate(asked)]
        return answer({"productVariants": page(nodes)})

    route = mocked.post(PATH).mock(side_effect=answer_for)
    found = await inventory.stock(skus, ["gid://shopify/Location/2"])

    assert [sent(call)["variables"]["first"] for call in route.calls] == [size, 3]
    assert len(found) == len(skus)
    assert {level.location_id for level in found} == {"gid://shopify/Location/2"}


async def test_an_item_stocked_at_more_locations_has_the_rest_read(
    mocked: respx.MockRouter, inventory: ShopifyInventory
) -> None:
    first = [level(n, 1) for n in range(retail_documents.LEVELS_PER_ITEM)]
    route = mocked.post(PATH).mock(
        side_effect=[
            answer({"productVariants": page([stocked("A-1", 5, first, "lv15")])}),
            answer({"inventoryItem": {"inventoryLevels": page([level(500, 9)])}}),
        ]
    )
    found = await inventory.stock(["A-1"])

    rest = sent(route.calls[1])
    assert rest["variables"] == {"id": "gid://shopify/InventoryItem/5", "after": "lv15"}
    assert len(found) == retail_documents.LEVELS_PER_ITEM + 1
    assert StockLevel("A-1", "gid://shopify/Location/500", 9) in found


async def test_webhook_items_are_made_skus_in_one_nodes_call(
    mocked: respx.MockRouter, inventory: ShopifyInventory
) -> None:
    route = mocked.post(PATH).mock(
        return_value=answer(
            {
                "nodes": [
                    {
                        "__typename": "InventoryItem",
                        "id": "gid://shopify/InventoryItem/1",
                        "sku": "A",
                    },
                    None,
                ]
            }
        )
    )
    found = await inventory.skus_for_items(
        ["gid://shopify/InventoryItem/1", "gid://shopify/InventoryItem/2", "not-an-item"]
    )
    assert found == {"gid://shopify/InventoryItem/1": "A"}
    assert sent(route.calls.last)["variables"] == {
        "ids": ["gid://shopify/InventoryItem/1", "gid://shopify/InventoryItem/2"]
    }


def test_a_page_of_stock_fits_shopify_s_cost_cap() -> None:
    """20 SKUs (a product page) at 15 locations each stay under the 1,000-point cap."""
    per_sku = 4 + 3 * retail_documents.LEVELS_PER_ITEM
    assert retail_documents.SKUS_PER_STOCK_CALL >= 20
    assert 2 + retail_documents.SKUS_PER_STOCK_CALL * per_sku <= 1000


# --- returned units back on sale --------------------------------------------------------------


async def test_returned_units_are_added_once_per_key_at_the_store(
    mocked: respx.MockRouter, inventory: ShopifyInventory
) -> None:
    store = "gid://shopify/Location/1"
    item = {"id": "gid://shopify/InventoryItem/5", "inventoryLevel": {"id": "lv"}}
    not_ranged = {"id": "gid://shopify/InventoryItem/6", "inventoryLevel": None}
    route = mocked.post(PATH).mock(
        side_effect=[
            answer(
                {
                    "productVariants": page(
                        [
                            {"sku": "A-1", "inventoryItem": item},
                            {"sku": "B-2", "inventoryItem": not_ranged},
                        ]
                    )
                }
            ),
            answer(
                {
                    "inventoryAdjustQuantities": {
                        "inventoryAdjustmentGroup": {
                            "id": "gid://shopify/InventoryAdjustmentGroup/1"
                        },
                        "userErrors": [],
                    }
                }
            ),
        ]
    )
    await inventory.restock(
        Restock(
            idempotency_key="og-ret-stock-1",
            location_id=store,
            quantities=(("A-1", 2), ("B-2", 1), ("C-3", 0)),
        )
    )

    lookup, adjust = (sent(call) for call in route.calls)
    assert lookup["variables"]["location"] == store
    assert "@idempotent(key: $key)" in adjust["query"]
    assert adjust["variables"] == {
        "input": {
            "name": "available",
            "reason": "restock",
            "changes": [
                {
                    "inventoryItemId": "gid://shopify/InventoryItem/5",
                    "locationId": store,
                    "delta": 2,
                    "changeFromQuantity": None,
                }
            ],
        },
        "key": "og-ret-stock-1",
    }


async def test_a_refused_adjustment_is_an_upstream_rejection(
    mocked: respx.MockRouter, inventory: ShopifyInventory
) -> None:
    item = {"id": "gid://shopify/InventoryItem/5", "inventoryLevel": {"id": "lv"}}
    mocked.post(PATH).mock(
        side_effect=[
            answer({"productVariants": page([{"sku": "A-1", "inventoryItem": item}])}),
            answer(
                {
                    "inventoryAdjustQuantities": {
                        "inventoryAdjustmentGroup": None,
                        "userErrors": [
                            {"field": ["input"], "message": "nope", "code": "INVALID_REASON"}
                        ],
                    }
                }
            ),
        ]
    )
    restock = Restock("k", "gid://shopify/Location/1", (("A-1", 1),))
    with pytest.raises(UpstreamRejected):
        await inventory.restock(restock)
