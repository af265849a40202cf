"""Shopify as POS and inventory (`OMNIGATE_ADAPTERS__POS=shopify`,
`OMNIGATE_ADAPTERS__INVENTORY=shopify`), through the gateway over loopback with the Shopify
simulator and a real mongod: the shop's Locations are the stores, stock per store comes
from Shopify's inventory levels in one call per product page, a customer's Shopify POS
receipts sit beside their online orders, a cart is checked out at a store's till exactly
once per key, and points are kept in omnigate's own ledger (Shopify has no loyalty API)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cart_api import (
    CART_CREATE,
    CHECKOUT,
    SET_FULFILLMENT,
    Device,
    known_everywhere,
    person_with_both_channels,
    staff_at,
)
from cart_api import stocked_skus as skus_at
from conftest import bearer

from commerce.offers.points_ledger import MongoPointsLedger
from connectors.records import Channel, ExternalRef, LoyaltyAccountRecord, OrderQuery, System
from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.wiring.adapters import AdapterError, Upstreams, build_adapters
from gateway.wiring.builtin_adapters import StoreIdsMismatch
from sandbox.dataset import Dataset
from sandbox.shopify.retail import INVENTORY_ITEM_BASE, LOCATION_BASE, location_gid

SHOPIFY_SET = {"pos": "shopify", "inventory": "shopify"}

STORES = "{ stores { id name address { line1 city postalCode country } } }"
TWENTY_WITH_STOCK = """
{
  products(first: 20) {
    edges { node {
      sku price { amount currency }
      availability { online { quantity } stores(first: 20) { store { id name } quantity } }
    } }
  }
}
"""
ORDER_LINES = "query ($id: ID) { order(id: $id) { lines { sku quantity } } }"
RETURN = """
mutation ($orderId: ID!, $lines: [ReturnLineInput!]!, $key: String!) {
  orderReturn(orderId: $orderId, lines: $lines, idempotencyKey: $key) {
    replayed
    orderReturn { id restocked refundId }
    userErrors { field message code }
  }
}
"""
MY_ORDERS = """
query { me { orders(first: 100) { edges { node { id channel store { id } } } } } }
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_changes(adapters={**settings.adapters.model_dump(), **SHOPIFY_SET})


def shopify_location(dataset: Dataset, square_id: str) -> str:
    index = next(i for i, loc in enumerate(dataset.locations) if loc.id == square_id)
    return location_gid(index)


def shopify_calls(sandbox: Any) -> int:
    return sum(n for call, n in sandbox.calls("shopify").items() if call.startswith("graphql"))


async def test_the_shops_locations_are_the_stores(gateway, dataset: Dataset):
    stores = (await gateway.query(STORES))["data"]["stores"]
    expected = {shopify_location(dataset, loc.id): loc for loc in dataset.stores}
    assert {store["id"] for store in stores} == set(expected)
    for store in stores:
        location = expected[store["id"]]
        assert store["name"] == location.name
        assert store["address"]["city"] == location.locality
        assert store["address"]["postalCode"] == location.postal_code


async def test_a_product_page_has_price_and_stock_per_store_in_one_shopify_call_each(
    gateway, sandbox, dataset: Dataset
):
    body = await gateway.query(TWENTY_WITH_STOCK)
    assert "errors" not in body, body
    edges = body["data"]["products"]["edges"]
    assert len(edges) == 20
    # products, stock, stores: three Admin GraphQL calls, and none to Square
    assert shopify_calls(sandbox) == 3
    assert sandbox.total_calls("square") == 0
    warehouse = dataset.warehouse
    for edge in edges:
        node = edge["node"]
        product = dataset.products_by_sku[node["sku"]]
        assert node["price"]["amount"] == f"{product.price:.2f}"
        online = dataset.inventory.get((product.square_variation_id, warehouse.id), 0)
        assert node["availability"]["online"]["quantity"] == online
        shown = {row["store"]["id"]: row["quantity"] for row in node["availability"]["stores"]}
        for location in dataset.stores:
            count = dataset.inventory.get((product.square_variation_id, location.id))
            store_id = shopify_location(dataset, location.id)
            if count:
                assert shown[store_id] == count
    sandbox.reset_calls()
    assert (await gateway.query(TWENTY_WITH_STOCK)) == body
    assert shopify_calls(sandbox) <= 2  # the stores are cached


async def test_me_lists_online_orders_and_shopify_pos_receipts(gateway, tokens, dataset):
    contact = person_with_both_channels(dataset)
    me = Device(gateway, bearer(tokens.customer(contact)))
    orders = [edge["node"] for edge in (await me.run(MY_ORDERS))["me"]["orders"]["edges"]]
    channels = {order["channel"] for order in orders}
    assert channels == {"ONLINE", "STORE"}
    person = next(c.person_key for c in dataset.crm_contacts if c.id == contact)
    pos_ids = {c.id for c in dataset.pos_customers if c.person_key == person}
    receipts = [o for o in dataset.pos_orders if o.customer_id in pos_ids]
    store_orders = [o for o in orders if o["channel"] == "STORE"]
    assert len(store_orders) == len(receipts)
    assert {o["store"]["id"] for o in store_orders} == {
        shopify_location(dataset, r.location_id) for r in receipts
    }
    # each channel is listed once: the online store's search leaves the store sales out
    assert len({o["id"] for o in orders}) == len(orders)


async def test_a_cart_checked_out_at_a_store_is_one_shopify_order_earning_once_paid(
    gateway, tokens, dataset, sandbox, settings
):
    """Placed once under twin retries, sold at the store; the points are earned in the
    ledger once Shopify POS has taken the payment at the till, not before."""
    services = gateway.http._transport.app.state.services
    contact = known_everywhere(dataset)[40]
    person = next(c.person_key for c in dataset.crm_contacts if c.id == contact)
    shop_customer = next(c.id for c in dataset.shop_customers if c.person_key == person)
    customer_ref = ExternalRef(System.SHOPIFY, f"gid://shopify/Customer/{shop_customer}")
    account = ExternalRef(System.SHOPIFY, f"ledger-{shop_customer}")
    await services.loyalty.open_accounts([LoyaltyAccountRecord(account, customer_ref, 100, 100)])
    buyer = Device(gateway, bearer(tokens.customer(contact)))
    square_store = dataset.stores[2]
    store = shopify_location(dataset, square_store.id)
    sku = skus_at(dataset, square_store.id, 2, 1)[0]
    cart = (await buyer.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    picked = (await buyer.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store))[
        "cartSetFulfillment"
    ]
    assert picked["userErrors"] == []
    shop = sandbox.apps["shopify"]
    before = len(shop.app.state.shop.orders.rows)
    till = staff_at(gateway, tokens, store)
    answers = await asyncio.gather(
        *(
            till.run(CHECKOUT, cartId=cart["id"], channel="STORE", key="shopify-till")
            for _ in range(3)
        )
    )
    placed = [answer["checkout"] for answer in answers]
    assert all(p["userErrors"] == [] for p in placed), placed
    assert len({p["order"]["id"] for p in placed}) == 1
    order = placed[0]["order"]
    assert order["channel"] == "STORE"
    assert order["store"] == {"id": store}
    assert len(shop.app.state.shop.orders.rows) == before + 1
    orders = [edge["node"] for edge in (await buyer.run(MY_ORDERS))["me"]["orders"]["edges"]]
    assert order["id"] in {o["id"] for o in orders if o["channel"] == "STORE"}

    async def balance() -> int:
        (found,) = await services.loyalty.loyalty_accounts([customer_ref.id])
        return int(found.balance)

    # not paid at the till yet: nothing earned, and Square, no part of this sale, not asked
    sandbox.reset_calls()
    assert await services.checkout.settle_store_order(order["id"]) is False
    assert sandbox.total_calls("square") == 0
    assert await balance() == 100
    number = order["id"].rsplit("/", 1)[1]
    async with httpx.AsyncClient(base_url=shop.url) as control:
        paid = await control.post(f"/_sandbox/shopify/orders/{number}/pay")
    assert paid.status_code == 200
    for _ in range(2):  # a second settlement (a replayed webhook, the reconciler) adds nothing
        assert await services.checkout.settle_store_order(order["id"]) is True
    per_unit = settings.offers.points_per_currency_unit
    assert await balance() == 100 + int(Decimal(order["total"]["amount"])) * per_unit

    # returned at another store: the till's Shopify Payments sale is refunded by Shopify,
    # the unit goes on that store's shelf, the points come back out
    elsewhere = shopify_location(dataset, dataset.stores[3].id)
    shelf = available_at(sandbox, sku, elsewhere)
    lines = [{"sku": sku, "quantity": 1}]
    taken = (
        await staff_at(gateway, tokens, elsewhere).run(
            RETURN, orderId=order["id"], lines=lines, key="shopify-till-return"
        )
    )["orderReturn"]
    assert taken["userErrors"] == []
    assert taken["orderReturn"]["refundId"].startswith("gid://shopify/Refund/")
    sold = shop.app.state.shop.node(order["id"])["transactions"]
    assert [(t["kind"], t["gateway"]) for t in sold] == [
        ("SALE", "shopify_payments"),
        ("REFUND", "shopify_payments"),
    ]
    assert available_at(sandbox, sku, elsewhere) == shelf + 1
    assert await balance() == 100


async def test_loyalty_auto_keeps_the_points_in_the_ledger(gateway):
    services = gateway.http._transport.app.state.services
    assert isinstance(services.loyalty, MongoPointsLedger)


@pytest.mark.parametrize(
    ("pos", "inventory"), [("shopify", "square"), ("square", "shopify")], ids=["pos", "inventory"]
)
async def test_a_pos_and_an_inventory_of_different_vendors_are_refused(settings, pos, inventory):
    """Their location ids differ, so no store would ever show stock: refused at start-up."""
    mixed = settings.with_changes(
        adapters={**settings.adapters.model_dump(), "pos": pos, "inventory": inventory}
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(AdapterError) as refused:
            build_adapters(mixed, Upstreams(client, mixed.upstreams, Metrics()))
    assert isinstance(refused.value.__cause__, StoreIdsMismatch)
    assert "OMNIGATE_ADAPTERS__INVENTORY" in str(refused.value)


async def test_an_inventory_levels_webhook_announces_the_skus_stock_at_its_store(
    gateway, settings, dataset: Dataset, monkeypatch
):
    """Shopify's `inventory_levels/update` names the item and the location by legacy ids:
    the gateway announces the SKU's stock change at that store, and at no store for the
    warehouse (online stock)."""
    services = gateway.http._transport.app.state.services
    heard: list[tuple[str | None, list[str]]] = []

    async def stock_changed(location_id: str | None, skus: Any) -> None:
        heard.append((location_id, list(skus)))

    monkeypatch.setattr(services.catalog_changes, "stock_changed", stock_changed)
    product = dataset.products[3]
    store_index = next(
        i
        for i, loc in enumerate(dataset.locations)
        if not loc.is_warehouse and (product.square_variation_id, loc.id) in dataset.inventory
    )
    warehouse_index = dataset.locations.index(dataset.warehouse)
    secret = settings.webhooks.shopify_secret.get_secret_value()
    for index in (store_index, warehouse_index):
        payload = {
            "inventory_item_id": INVENTORY_ITEM_BASE + 3,
            "location_id": LOCATION_BASE + index,
            "available": 7,
            "updated_at": "2026-11-02T10:00:00Z",
        }
        raw = json.dumps(payload).encode()
        digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
        answer = await gateway.http.post(
            "/webhooks/shopify",
            content=raw,
            headers={
                "content-type": "application/json",
                "x-shopify-topic": "inventory_levels/update",
                "x-shopify-webhook-id": f"level-{index}",
                "x-shopify-hmac-sha256": base64.b64encode(digest).decode(),
            },
        )
        assert answer.status_code == 200, answer.text
    assert heard == [(location_gid(store_index), [product.sku]), (None, [product.sku])]


async def test_a_seeded_shopify_pos_receipt_paid_in_cash_is_not_refunded(
    gateway, tokens, dataset: Dataset
):
    """The dataset's receipts carry no card sale (as Square's: paid in cash), so there is
    nothing to refund through: NOT_PAID, a stable code. A receipt paid by card at the till
    is refunded through Shopify (the store checkout test above)."""
    contact = person_with_both_channels(dataset)
    me = Device(gateway, bearer(tokens.customer(contact)))
    orders = [edge["node"] for edge in (await me.run(MY_ORDERS))["me"]["orders"]["edges"]]
    receipt = next(order for order in orders if order["channel"] == "STORE")
    lines = (await me.run(ORDER_LINES, id=receipt["id"]))["order"]["lines"]
    till = staff_at(gateway, tokens, receipt["store"]["id"])
    taken = (
        await till.run(
            RETURN, orderId=receipt["id"], lines=[{"sku": lines[0]["sku"], "quantity": 1}], key="r"
        )
    )["orderReturn"]
    assert [error["code"] for error in taken["userErrors"]] == ["NOT_PAID"]
    assert taken["orderReturn"] is None


async def test_a_shopify_pos_receipt_is_paid(gateway, dataset: Dataset):
    """The terminal's payment is Shopify POS's, on the order itself (PosPaidOrders)."""
    services = gateway.http._transport.app.state.services
    contact = person_with_both_channels(dataset)
    person = next(c.person_key for c in dataset.crm_contacts if c.id == contact)
    shop = next(c for c in dataset.shop_customers if c.person_key == person)
    store_orders = await services.pos.orders(OrderQuery((f"gid://shopify/Customer/{shop.id}",), 5))
    assert store_orders
    assert all(order.channel is Channel.STORE for order in store_orders)
    assert await services.pos.order_paid(store_orders[0].ref.id) is True


def available_at(sandbox: Any, sku: str, store: str) -> int:
    """The Shopify simulator's `available` units of the SKU at the store."""
    retail = sandbox.apps["shopify"].app.state.shop.retail
    levels = retail.levels(retail.items_by_sku[sku]["id"])
    return int(
        next(lv for lv in levels if lv["location"]["id"] == store)["_quantities"]["available"]
    )


async def test_an_online_order_returned_at_a_store_goes_back_on_its_shelf_once(
    gateway, tokens, dataset: Dataset, sandbox
):
    """A return's units are added to the store's Shopify level (inventoryAdjustQuantities
    under the return's key): a retried return adds nothing more."""
    buyer = Device(gateway, bearer(tokens.customer(known_everywhere(dataset)[42])))
    square_store = dataset.stores[4]
    store = shopify_location(dataset, square_store.id)
    warehouse = dataset.warehouse.id
    sku = next(
        p.sku
        for p in dataset.products
        if dataset.inventory.get((p.square_variation_id, warehouse), 0) >= 20
        and dataset.inventory.get((p.square_variation_id, square_store.id), 0) >= 1
    )
    cart = (await buyer.run(CART_CREATE, lines=[{"sku": sku, "quantity": 2}]))["cartCreate"]
    placed = (
        await buyer.run(CHECKOUT, cartId=cart["cart"]["id"], channel="WEB", key="shopify-web-ret")
    )["checkout"]
    assert placed["userErrors"] == []
    before = available_at(sandbox, sku, store)
    till = staff_at(gateway, tokens, store)
    lines = [{"sku": sku, "quantity": 1}]
    for attempt in range(2):
        taken = (
            await till.run(RETURN, orderId=placed["order"]["id"], lines=lines, key="shopify-ret")
        )["orderReturn"]
        assert taken["userErrors"] == []
        assert taken["orderReturn"]["restocked"] is True
        assert taken["replayed"] is (attempt == 1)
    assert available_at(sandbox, sku, store) == before + 1
