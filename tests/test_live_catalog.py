"""`stockChanged` and `productChanged` end to end: signed vendor webhooks from the sandbox,
omnigate's own checkout and the polling fallback reach subscribers over
graphql-transport-ws, across two gateways sharing one MongoDB; bursts are coalesced with the
latest values last; a subscriber that stops reading is dropped with close code 4008.

Every gateway here is served on a loopback port in the test's event loop; the sandbox
delivers its webhooks to it over HTTP, signed as the vendors sign them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cart_api import CART_CREATE, CHECKOUT, LINES_ADD, SET_FULFILLMENT, Device, stocked_skus
from conftest import GatewayClient
from live_api import (
    PRODUCT_CHANGED,
    STOCK_CHANGED,
    StalledClient,
    levels,
    live_settings,
    served,
    set_stock,
    shopify_webhooks,
    square_webhooks,
    subscribed,
)
from pymongo import AsyncMongoClient

from commerce.live import CatalogChanges
from gateway.local_mongod import free_port
from sandbox.dataset import WAREHOUSE_LOCATION_ID


def store_of(dataset) -> str:
    return str(dataset.stores[0].id)


async def test_a_square_webhook_reaches_a_store_stock_subscriber(
    mongod, sandbox, dataset, restore_stock
):
    store = store_of(dataset)
    first, second = stocked_skus(dataset, store, 2, 2)
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/square"
    async with square_webhooks(sandbox.url("square"), url) as key:
        settings = live_settings(mongod, sandbox, port, key)
        async with (
            served(settings, port) as gateway,
            subscribed(
                gateway.ws_url, STOCK_CHANGED, {"storeId": store, "skus": [first, second]}
            ) as subscriber,
        ):
            now = levels(await subscriber.next())
            assert now == {
                first: dataset.inventory[
                    (dataset.products_by_sku[first].square_variation_id, store)
                ],
                second: dataset.inventory[
                    (dataset.products_by_sku[second].square_variation_id, store)
                ],
            }
            assert await set_stock(sandbox.url("square"), [(first, store, 1)]) == [200]
            assert levels(await subscriber.next()) == {first: 1}
            # another store's change to the same SKU is not this subscriber's
            other = str(dataset.stores[1].id)
            assert await set_stock(sandbox.url("square"), [(second, other, 3)]) == [200]
            assert await set_stock(sandbox.url("square"), [(second, store, 0)]) == [200]
            update = await subscriber.next()
            assert update["data"]["stockChanged"] == {
                "storeId": store,
                "levels": [{"sku": second, "quantity": 0, "inStock": False}],
            }


async def test_a_webhook_with_a_bad_signature_changes_nothing(
    mongod, sandbox, dataset, restore_stock
):
    store = store_of(dataset)
    (sku,) = stocked_skus(dataset, store, 2, 1)
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/square"
    async with square_webhooks(sandbox.url("square"), url):
        # the gateway holds another key than the subscription's
        settings = live_settings(mongod, sandbox, port, "not-the-subscription-key")
        async with served(settings, port) as gateway:
            assert await set_stock(sandbox.url("square"), [(sku, store, 4)]) == [401]
            changes = gateway.services.catalog_changes.collection
            assert await changes.count_documents({}) == 0


async def test_shopify_products_update_reaches_a_product_subscriber_and_drops_the_recent_price(
    mongod, sandbox, dataset
):
    sku = dataset.products[3].sku
    old_price = dataset.products[3].price
    port = free_port()
    settings = live_settings(mongod, sandbox, port)
    shopify = sandbox.url("shopify")
    async with (
        served(settings, port) as gateway,
        shopify_webhooks(shopify, f"{gateway.url}/webhooks/shopify"),
        httpx.AsyncClient(base_url=gateway.url, timeout=10) as http,
    ):
        client = GatewayClient(http)
        read = await client.query("query ($s: ID!) { product(sku: $s) { sku } }", {"s": sku})
        assert read["data"]["product"] == {"sku": sku}
        recent = gateway.services.recent_catalog
        assert recent.products([sku]) is not None  # the pod remembers the price it read
        try:
            async with subscribed(gateway.ws_url, PRODUCT_CHANGED, {"skus": [sku]}) as subscriber:
                first = (await subscriber.next())["data"]["productChanged"]["products"]
                assert [(p["sku"], Decimal(p["price"]["amount"])) for p in first] == [
                    (sku, old_price)
                ]
                changed = await http.post(
                    f"{shopify}/_sandbox/shopify/variants/{sku}/price", json={"price": "1.25"}
                )
                assert changed.json()["deliveries"] == [200]
                after = (await subscriber.next())["data"]["productChanged"]["products"]
                assert [(p["sku"], p["price"]["amount"]) for p in after] == [(sku, "1.25")]
                assert recent.products([sku]) is None  # forgotten: never a fallback now
        finally:
            await http.post(
                f"{shopify}/_sandbox/shopify/variants/{sku}/price", json={"price": str(old_price)}
            )


async def test_a_checkout_tells_online_stock_subscribers(mongod, sandbox, dataset):
    """omnigate's own write: no vendor webhook is subscribed, yet the subscriber hears of
    the order and reads the online stock afresh."""
    (sku,) = stocked_skus(dataset, WAREHOUSE_LOCATION_ID, 5, 1)
    port = free_port()
    settings = live_settings(mongod, sandbox, port)
    async with (
        served(settings, port) as gateway,
        httpx.AsyncClient(base_url=gateway.url, timeout=20) as http,
        subscribed(gateway.ws_url, STOCK_CHANGED, {"storeId": None, "skus": [sku]}) as subscriber,
    ):
        assert set(levels(await subscriber.next())) == {sku}
        client = GatewayClient(http)
        anonymous = Device(client, {})
        created = (await anonymous.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]
        guest = Device(client, {"x-cart-token": created["cartToken"]})
        placed = await guest.run(
            CHECKOUT, cartId=created["cart"]["id"], channel="WEB", key=uuid.uuid4().hex
        )
        assert placed["checkout"]["userErrors"] == []
        assert set(levels(await subscriber.next())) == {sku}


async def test_without_webhooks_the_gateway_polls_what_is_followed(
    mongod, sandbox, dataset, restore_stock
):
    store = store_of(dataset)
    (sku,) = stocked_skus(dataset, store, 2, 1)
    port = free_port()
    settings = live_settings(
        mongod, sandbox, port, square_webhooks=False, poll_interval_seconds=0.2
    )
    async with (
        served(settings, port) as gateway,
        subscribed(gateway.ws_url, STOCK_CHANGED, {"storeId": store, "skus": [sku]}) as subscriber,
    ):
        before = levels(await subscriber.next())[sku]
        # no webhook subscription: the sandbox tells nobody
        assert await set_stock(sandbox.url("square"), [(sku, store, before + 7)]) == []
        # (the first poll of a SKU may resend its value before the change is seen)
        while (now := levels(await subscriber.next())) != {sku: before + 7}:
            assert now == {sku: before}


INTERVAL = 0.25


async def test_a_burst_is_coalesced_and_ends_on_the_latest_values(
    mongod, sandbox, dataset, restore_stock
):
    """200 SKUs followed, 1,000 signed webhooks delivered 25 at a time: far fewer messages
    than changes, and once the burst is over every SKU shows its last value."""
    store = store_of(dataset)
    skus = [product.sku for product in dataset.products[:200]]
    burst = [(skus[i % 200], store, 1000 + i) for i in range(1000)]
    final = {sku: quantity for sku, _, quantity in burst}
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/square"
    async with square_webhooks(sandbox.url("square"), url) as key:
        settings = live_settings(mongod, sandbox, port, key, min_message_interval_seconds=INTERVAL)
        async with (
            served(settings, port) as gateway,
            subscribed(gateway.ws_url, STOCK_CHANGED, {"storeId": store, "skus": skus}) as sub,
            httpx.AsyncClient(timeout=300) as http,
        ):
            assert len(levels(await sub.next())) == 200
            started = time.monotonic()
            sending = asyncio.create_task(
                http.post(
                    f"{sandbox.url('square')}/_sandbox/square/inventory",
                    json={
                        "changes": [
                            {"sku": s, "location_id": loc, "quantity": q} for s, loc, q in burst
                        ],
                        "concurrency": 25,
                    },
                )
            )
            seen: dict[str, int] = {}
            messages = 0
            while seen != final:
                seen.update(levels(await sub.next(wait=60)))
                messages += 1
            answer = await sending
            print(f"burst delivered in {time.monotonic() - started:.1f} s")
            assert answer.json()["deliveries"] == [200] * 1000
            # a last change after the burst: nothing stale arrives before it
            assert await set_stock(sandbox.url("square"), [(skus[0], store, 5)]) == [200]
            while True:
                update = levels(await sub.next())
                messages += 1
                if update.get(skus[0]) == 5:
                    assert all(final[s] == q for s, q in update.items() if s != skus[0])
                    break
                assert all(final[s] == q for s, q in update.items()), "a stale value came last"
    elapsed = time.monotonic() - started
    print(f"burst: {messages} messages for 1,000 changes in {elapsed:.1f} s")
    # at most one message per interval while the burst lasts (plus the first and last)
    assert messages <= elapsed / INTERVAL + 2
    assert messages < 200


async def test_a_subscriber_that_stops_reading_is_dropped_with_4008(mongod, sandbox, dataset):
    """A device stops reading while changes to its 200 SKUs keep coming (written by another
    pod): the gateway does not buffer for it, it drops it and the socket closes with 4008."""
    store = store_of(dataset)
    skus = [product.sku for product in dataset.products[:200]]
    port = free_port()
    slow = live_settings(mongod, sandbox, port, max_lag_seconds=0.5, min_message_interval_seconds=0)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongod.uri, tz_aware=True)
    other_pod = CatalogChanges(client[slow.mongodb_database])
    device: StalledClient | None = None
    try:
        async with served(slow, port) as gateway:
            device = StalledClient(gateway.ws_url)
            first = await device.subscribe(STOCK_CHANGED, {"storeId": store, "skus": skus})
            assert len(levels(first)) == 200
            feed = gateway.services.live.feed
            # the device reads nothing more; changes keep coming
            for _ in range(3000):
                if feed.dropped or any(watch.fell_behind for watch in feed.watched()):
                    break
                await other_pod.stock_changed(store, skus)
                await asyncio.sleep(0.01)
            assert feed.dropped or any(watch.fell_behind for watch in feed.watched())
            assert await device.read_until_closed() == 4008
            async with httpx.AsyncClient(timeout=10) as http:
                metrics = (await http.get(f"{gateway.url}/metrics")).text
            assert "omnigate_live_subscribers_dropped_total 1.0" in metrics
    finally:
        if device is not None:
            await device.close()
        await client.close()


async def test_two_gateways_on_one_database_fan_out_a_webhook(
    mongod, sandbox, dataset, restore_stock
):
    """The webhook lands on gateway A; the subscriber is connected to gateway B."""
    store = store_of(dataset)
    (sku,) = stocked_skus(dataset, store, 2, 1)
    port_a, port_b = free_port(), free_port()
    url = f"http://127.0.0.1:{port_a}/webhooks/square"
    async with square_webhooks(sandbox.url("square"), url) as key:
        settings_a = live_settings(mongod, sandbox, port_a, key)
        settings_b = settings_a.model_copy()
        async with (
            served(settings_a, port_a),
            served(settings_b, port_b) as gateway_b,
            subscribed(
                gateway_b.ws_url, STOCK_CHANGED, {"storeId": store, "skus": [sku]}
            ) as subscriber,
        ):
            await subscriber.next()
            assert await set_stock(sandbox.url("square"), [(sku, store, 11)]) == [200]
            assert levels(await subscriber.next()) == {sku: 11}


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        pytest.param({"storeId": None, "skus": None}, "BAD_USER_INPUT", id="online-needs-skus"),
        pytest.param({"storeId": None, "skus": []}, "BAD_USER_INPUT", id="no-skus"),
        pytest.param(
            {"storeId": None, "skus": [f"S{i}" for i in range(251)]},
            "BAD_USER_INPUT",
            id="too-many",
        ),
        pytest.param({"storeId": "NO-SUCH-STORE", "skus": ["A"]}, "NOT_FOUND", id="no-store"),
        pytest.param(
            {"storeId": WAREHOUSE_LOCATION_ID, "skus": ["A"]}, "NOT_FOUND", id="warehouse"
        ),
    ],
)
async def test_bad_arguments_are_refused_with_a_code(mongod, sandbox, variables, code):
    port = free_port()
    async with (
        served(live_settings(mongod, sandbox, port), port) as gateway,
        subscribed(gateway.ws_url, STOCK_CHANGED, variables) as subscriber,
    ):
        message = await subscriber.first_message()
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert [error["extensions"]["code"] for error in errors] == [code]


async def test_a_redelivered_square_event_is_recorded_once(mongod, sandbox, dataset):
    """Square retries with the same event_id: one change recorded, however many copies,
    signed here with the standard library."""
    store = store_of(dataset)
    product = dataset.products[0]
    port = free_port()
    key = "redelivery-key"
    settings = live_settings(mongod, sandbox, port, key)
    event = {
        "merchant_id": "M1",
        "type": "inventory.count.updated",
        "event_id": str(uuid.uuid4()),
        "created_at": "2026-12-06T10:00:00Z",
        "data": {
            "type": "inventory_counts",
            "id": "x",
            "object": {
                "inventory_counts": [
                    {
                        "catalog_object_id": product.square_variation_id,
                        "catalog_object_type": "ITEM_VARIATION",
                        "location_id": store,
                        "quantity": "3",
                        "state": "IN_STOCK",
                        "calculated_at": "2026-12-06T10:00:00Z",
                    }
                ]
            },
        },
    }
    body = json.dumps(event).encode()
    url = settings.webhooks.square_notification_url
    digest = hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "x-square-hmacsha256-signature": base64.b64encode(digest).decode(),
    }
    async with served(settings, port) as gateway, httpx.AsyncClient(timeout=10) as http:
        answers = await asyncio.gather(
            *(http.post(url, content=body, headers=headers) for _ in range(3))
        )
        assert sorted(a.json()["status"] for a in answers) == ["applied", "duplicate", "duplicate"]
        changes = gateway.services.catalog_changes.collection
        recorded = await changes.find({}, {"_id": 0, "kind": 1, "location": 1, "skus": 1}).to_list()
        assert recorded == [{"kind": "stock", "location": store, "skus": [product.sku]}]


async def test_a_hold_on_one_gateway_shows_at_once_on_another_that_follows_the_store(
    mongod, sandbox, dataset
):
    """Pages reuse what they read of holds for `cart.shown_holds_seconds` (60 here); a hold
    taken on gateway A reaches gateway B's change feed, open for B's display, which drops
    what B remembered: B's next page shows the shelf less the hold."""
    store = store_of(dataset)
    (sku,) = stocked_skus(dataset, store, 4, 1)
    shown = """query ($sku: ID!) {
      product(sku: $sku) { availability { stores(first: 50) { store { id } quantity } } }
    }"""
    port_a, port_b = free_port(), free_port()
    settings = live_settings(mongod, sandbox, port_a)
    settings = settings.model_copy(
        update={"cart": settings.cart.model_copy(update={"shown_holds_seconds": 60.0})}
    )
    async with (
        served(settings, port_a) as gateway_a,
        served(settings, port_b) as gateway_b,
        httpx.AsyncClient(base_url=gateway_a.url, timeout=20) as http_a,
        httpx.AsyncClient(base_url=gateway_b.url, timeout=20) as http_b,
        subscribed(gateway_b.ws_url, STOCK_CHANGED, {"storeId": store, "skus": [sku]}) as display,
    ):
        shelf = levels(await display.next())[sku]
        shopper_b = Device(GatewayClient(http_b), {})

        async def shown_on_b() -> int:
            rows = (await shopper_b.run(shown, sku=sku))["product"]["availability"]["stores"]
            return next(row["quantity"] for row in rows if row["store"]["id"] == store)

        assert await shown_on_b() == shelf  # and remembered for a minute

        created = (await Device(GatewayClient(http_a), {}).run(CART_CREATE))["cartCreate"]
        holder = Device(GatewayClient(http_a), {"x-cart-token": created["cartToken"]})
        cart_id = created["cart"]["id"]
        picked = await holder.run(SET_FULFILLMENT, cartId=cart_id, type="PICKUP", storeId=store)
        assert picked["cartSetFulfillment"]["userErrors"] == []
        added = await holder.run(LINES_ADD, cartId=cart_id, lines=[{"sku": sku, "quantity": 2}])
        assert added["cartLinesAdd"]["userErrors"] == []

        await display.next()  # B's feed has heard of the hold
        assert await shown_on_b() == shelf - 2
