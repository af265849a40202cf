"""Click and collect that holds, against the sandbox vendors and a real mongod: a pickup
cart's quantities are held at its store, everyone else sees the shelf less them, the hold
follows the cart and is released on removal, delivery, checkout (once, also across a crash)
and expiry, survives a restart, and of many carts racing for the last unit exactly one
gets it, across two gateway instances."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from cart_api import (
    CART,
    CART_CREATE,
    CHECKOUT,
    LINES_ADD,
    LINES_REMOVE,
    LINES_UPDATE,
    MERGE,
    SET_FULFILLMENT,
    Device,
    codes,
    kiosk_for,
    known_everywhere,
    stock_at,
    stocked_skus,
)
from conftest import GatewayClient, Tokens
from payments_api import CARD_OK

from sandbox.dataset import Dataset

SHOWN = """
query ($sku: ID!) {
  product(sku: $sku) { availability { stores(first: 50) { store { id } quantity } } }
}
"""


def services_of(gateway: GatewayClient) -> Any:
    return gateway.http._transport.app.state.services  # type: ignore[attr-defined]


async def shown_at(device: Device, sku: str, store_id: str) -> int:
    """What the product's availability shows at the store (0 when it is not listed)."""
    data = await device.run(SHOWN, sku=sku)
    rows = data["product"]["availability"]["stores"]
    return next((row["quantity"] for row in rows if row["store"]["id"] == store_id), 0)


async def add(device: Device, cart_id: str, sku: str, quantity: int = 1) -> dict[str, Any]:
    lines = [{"sku": sku, "quantity": quantity}]
    return dict((await device.run(LINES_ADD, cartId=cart_id, lines=lines))["cartLinesAdd"])


async def set_quantity(device: Device, cart_id: str, line_id: str, quantity: int) -> dict[str, Any]:
    lines = [{"id": line_id, "quantity": quantity}]
    return dict((await device.run(LINES_UPDATE, cartId=cart_id, lines=lines))["cartLinesUpdate"])


async def pick(device: Device, cart_id: str, store_id: str | None) -> dict[str, Any]:
    kind = "DELIVERY" if store_id is None else "PICKUP"
    answer = await device.run(SET_FULFILLMENT, cartId=cart_id, type=kind, storeId=store_id)
    return dict(answer["cartSetFulfillment"])


async def guest(gateway: GatewayClient) -> tuple[Device, dict[str, Any]]:
    """A new guest and their empty cart."""
    created = (await Device(gateway, {}).run(CART_CREATE))["cartCreate"]
    return Device(gateway, {"x-cart-token": created["cartToken"]}), created["cart"]


async def pickup_guest(
    gateway: GatewayClient, store_id: str, lines: list[dict[str, Any]] | None = None
) -> tuple[Device, dict[str, Any]]:
    """A guest whose cart is for pickup at `store_id`, holding `lines` there."""
    device, cart = await guest(gateway)
    picked = (
        await device.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store_id)
    )["cartSetFulfillment"]
    assert picked["userErrors"] == []
    cart = picked["cart"]
    if lines:
        added = (await device.run(LINES_ADD, cartId=cart["id"], lines=lines))["cartLinesAdd"]
        assert added["userErrors"] == [], added
        cart = added["cart"]
    return device, cart


def a_store_sku(dataset: Dataset, at_least: int = 6) -> tuple[str, str, int]:
    """(store id, SKU, its shelf count there) with at least `at_least` units."""
    store = dataset.stores[2]
    sku = stocked_skus(dataset, store.id, at_least, 1)[0]
    return store.id, sku, stock_at(dataset, sku, store.id)


def last_unit(dataset: Dataset) -> tuple[str, str]:
    """(store id, SKU) of which the store has exactly one unit."""
    for store in dataset.stores:
        for product in dataset.products:
            if stock_at(dataset, product.sku, store.id) == 1:
                return store.id, product.sku
    raise AssertionError("no SKU with a single unit at a store")


async def test_pickup_holds_the_quantities_and_everyone_else_sees_less(gateway, dataset):
    store_id, sku, shelf = a_store_sku(dataset)
    other, _ = await guest(gateway)
    assert await shown_at(other, sku, store_id) == shelf

    # chosen with the line in the cart already (held by cartSetFulfillment)
    holder, cart = await guest(gateway)
    added = await holder.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": sku, "quantity": 2}])
    assert added["cartLinesAdd"]["userErrors"] == []
    picked = await holder.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store_id)
    assert picked["cartSetFulfillment"]["userErrors"] == []

    assert await shown_at(other, sku, store_id) == shelf - 2
    # the holder's own hold is available to it
    line = (await holder.run(CART, id=cart["id"]))["cart"]["lines"][0]
    assert (line["availableQuantity"], line["outOfStock"]) == (shelf, False)

    # another pickup cart gets what is left, and not one unit more
    rival, other_cart = await pickup_guest(gateway, store_id)
    too_many = (
        await rival.run(
            LINES_ADD, cartId=other_cart["id"], lines=[{"sku": sku, "quantity": shelf - 1}]
        )
    )["cartLinesAdd"]
    assert codes(too_many) == ["OUT_OF_STOCK"]
    store_name = next(s.name for s in dataset.stores if s.id == store_id)
    assert store_name in too_many["userErrors"][0]["message"]
    assert too_many["cart"]["version"] == other_cart["version"]
    fits = (
        await rival.run(
            LINES_ADD, cartId=other_cart["id"], lines=[{"sku": sku, "quantity": shelf - 2}]
        )
    )["cartLinesAdd"]
    assert fits["userErrors"] == []
    assert await shown_at(other, sku, store_id) == 0


async def test_the_hold_follows_line_changes_and_is_released_by_removal(gateway, dataset):
    store_id, sku, shelf = a_store_sku(dataset)
    watcher, _ = await guest(gateway)
    holder, cart = await pickup_guest(gateway, store_id, [{"sku": sku, "quantity": 1}])
    assert await shown_at(watcher, sku, store_id) == shelf - 1

    added = await holder.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": sku, "quantity": 2}])
    assert added["cartLinesAdd"]["userErrors"] == []
    assert await shown_at(watcher, sku, store_id) == shelf - 3

    line_id = added["cartLinesAdd"]["cart"]["lines"][0]["id"]
    lowered = await holder.run(
        LINES_UPDATE, cartId=cart["id"], lines=[{"id": line_id, "quantity": 2}]
    )
    assert lowered["cartLinesUpdate"]["userErrors"] == []
    assert await shown_at(watcher, sku, store_id) == shelf - 2

    # a competitor takes all but one of the rest: raising past what is left is refused
    # with the store named, and the cart and its hold stay as they were
    await pickup_guest(gateway, store_id, [{"sku": sku, "quantity": shelf - 3}])
    assert await shown_at(watcher, sku, store_id) == 1
    before = lowered["cartLinesUpdate"]["cart"]
    refused = (
        await holder.run(LINES_UPDATE, cartId=cart["id"], lines=[{"id": line_id, "quantity": 4}])
    )["cartLinesUpdate"]
    assert codes(refused) == ["OUT_OF_STOCK"]
    assert store_id in refused["userErrors"][0]["message"]
    assert refused["cart"]["version"] == before["version"]
    assert refused["cart"]["lines"][0]["quantity"] == 2
    assert await shown_at(watcher, sku, store_id) == 1
    raised = await holder.run(
        LINES_UPDATE, cartId=cart["id"], lines=[{"id": line_id, "quantity": 3}]
    )
    assert raised["cartLinesUpdate"]["userErrors"] == []
    assert await shown_at(watcher, sku, store_id) == 0

    removed = (await holder.run(LINES_REMOVE, cartId=cart["id"], ids=[line_id]))["cartLinesRemove"]
    assert removed["userErrors"] == []
    assert await shown_at(watcher, sku, store_id) == 3


async def test_delivery_releases_the_hold_and_another_store_moves_it(gateway, dataset):
    store_id, sku, shelf = a_store_sku(dataset)
    other_store = next(
        s.id for s in dataset.stores if s.id != store_id and stock_at(dataset, sku, s.id) >= 2
    )
    other_shelf = stock_at(dataset, sku, other_store)
    watcher, _ = await guest(gateway)
    holder, cart = await pickup_guest(gateway, store_id, [{"sku": sku, "quantity": 2}])

    moved = await holder.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=other_store)
    assert moved["cartSetFulfillment"]["userErrors"] == []
    assert await shown_at(watcher, sku, store_id) == shelf
    assert await shown_at(watcher, sku, other_store) == other_shelf - 2

    delivered = await holder.run(SET_FULFILLMENT, cartId=cart["id"], type="DELIVERY")
    assert delivered["cartSetFulfillment"]["userErrors"] == []
    assert await shown_at(watcher, sku, other_store) == other_shelf
    assert await services_of(gateway).holds.of_cart(cart["id"]) == {}


async def test_many_carts_racing_for_the_last_unit_on_two_gateways_one_wins(
    gateway, make_gateway, settings, dataset
):
    store_id, sku = last_unit(dataset)
    store_name = next(s.name for s in dataset.stores if s.id == store_id)
    async with make_gateway(settings) as second:
        pods = [gateway, second]
        racers = [await pickup_guest(pods[i % 2], store_id) for i in range(12)]
        answers = await asyncio.gather(
            *(
                device.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": sku, "quantity": 1}])
                for device, cart in racers
            )
        )
        payloads = [answer["cartLinesAdd"] for answer in answers]
        winners = [p for p in payloads if p["userErrors"] == []]
        losers = [p for p in payloads if p["userErrors"] != []]
        assert len(winners) == 1
        assert all(codes(p) == ["OUT_OF_STOCK"] for p in losers)
        assert all(store_name in p["userErrors"][0]["message"] for p in losers)
        assert all(p["cart"]["lines"] == [] for p in losers)
        watcher, _ = await guest(second)
        assert await shown_at(watcher, sku, store_id) == 0
        held = await services_of(second).holds.held([sku])
        assert held[sku].by_store[store_id] == {winners[0]["cart"]["id"]: 1}


async def test_choosing_pickup_races_too(gateway, make_gateway, settings, dataset):
    """Carts holding the SKU for delivery all switch to the store with its last unit."""
    store_id, sku = last_unit(dataset)
    async with make_gateway(settings) as second:
        pods = [gateway, second]
        racers = []
        for i in range(8):
            device, cart = await guest(pods[i % 2])
            added = await device.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": sku}])
            assert added["cartLinesAdd"]["userErrors"] == [], added
            racers.append((device, cart))
        answers = await asyncio.gather(
            *(
                device.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store_id)
                for device, cart in racers
            )
        )
        payloads = [answer["cartSetFulfillment"] for answer in answers]
        assert sum(p["userErrors"] == [] for p in payloads) == 1
        losers = [p for p in payloads if p["userErrors"]]
        assert all(codes(p) == ["OUT_OF_STOCK"] for p in losers)
        assert all(p["cart"]["fulfillment"]["type"] == "DELIVERY" for p in losers)


async def test_holds_survive_a_gateway_restart(make_gateway, settings, dataset):
    store_id, sku, shelf = a_store_sku(dataset)
    async with make_gateway(settings) as first:
        holder, cart = await pickup_guest(first, store_id, [{"sku": sku, "quantity": 3}])
        token = holder.headers["x-cart-token"]
    async with make_gateway(settings) as restarted:
        watcher, _ = await guest(restarted)
        assert await shown_at(watcher, sku, store_id) == shelf - 3
        again = Device(restarted, {"x-cart-token": token})
        line = (await again.run(CART, id=cart["id"]))["cart"]["lines"][0]
        assert line["availableQuantity"] == shelf


async def test_an_expired_hold_counts_no_more_and_checkout_takes_it_again(
    make_gateway, settings, dataset
):
    store_id, sku, shelf = a_store_sku(dataset)
    short = settings.model_copy(
        update={"cart": settings.cart.model_copy(update={"pickup_hold_seconds": 1})}
    )
    async with make_gateway(short) as gateway:
        watcher, _ = await guest(gateway)
        holder, cart = await pickup_guest(gateway, store_id, [{"sku": sku, "quantity": 2}])
        assert await shown_at(watcher, sku, store_id) == shelf - 2
        # past its expiry the hold counts for nobody, though MongoDB's TTL monitor (every
        # 60 s) has not removed it yet
        await asyncio.sleep(1.5)
        assert await services_of(gateway).holds.of_cart(cart["id"]) == {}
        assert await shown_at(watcher, sku, store_id) == shelf
        # another cart may now hold what the expired one held
        _, rival = await pickup_guest(gateway, store_id, [{"sku": sku, "quantity": shelf - 1}])
        assert await shown_at(watcher, sku, store_id) == 1
        # the first cart's checkout finds only one unit left for it
        placed = (await holder.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="late"))[
            "checkout"
        ]
        assert codes(placed) == ["OUT_OF_STOCK"]
        assert placed["order"] is None
        assert rival["lines"][0]["quantity"] == shelf - 1


@pytest.fixture
def buyer(gateway: GatewayClient, tokens: Tokens, dataset: Dataset) -> Device:
    contact = known_everywhere(dataset)[7]
    return Device(gateway, {"authorization": f"Bearer {tokens.customer(contact)}"})


async def test_checkout_releases_the_hold_once_also_after_a_crash(
    buyer, gateway, dataset, monkeypatch
):
    store_id, sku, shelf = a_store_sku(dataset)
    watcher, _ = await guest(gateway)
    cart = (await buyer.run(CART_CREATE, lines=[{"sku": sku, "quantity": 2}]))["cartCreate"]["cart"]
    picked = await buyer.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store_id)
    assert picked["cartSetFulfillment"]["userErrors"] == []
    assert await shown_at(watcher, sku, store_id) == shelf - 2
    service = services_of(gateway).checkout
    orders_before = len((await buyer.run(MY_PICKUPS))["me"]["orders"]["edges"])

    async def crash(record: Any) -> None:
        raise RuntimeError("the pod died between the order and the release")

    monkeypatch.setattr(service, "after_upstream_order", crash)
    crashed = await buyer.raw(CHECKOUT, cartId=cart["id"], channel="WEB", key="pickup-crash")
    assert crashed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    # the order exists upstream, the cart is frozen and still holds its units
    assert (await buyer.run(CART, id=cart["id"]))["cart"]["status"] == "CHECKING_OUT"
    assert await shown_at(watcher, sku, store_id) == shelf - 2

    monkeypatch.undo()
    placed = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="pickup-crash"))[
        "checkout"
    ]
    assert placed["userErrors"] == []
    assert placed["cart"]["status"] == "CHECKED_OUT"
    assert await services_of(gateway).holds.of_cart(cart["id"]) == {}
    assert await shown_at(watcher, sku, store_id) == shelf
    replayed = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="pickup-crash"))[
        "checkout"
    ]
    assert replayed["replayed"] is True
    assert replayed["order"]["id"] == placed["order"]["id"]
    assert await shown_at(watcher, sku, store_id) == shelf
    # one order upstream, however many attempts
    orders = (await buyer.run(MY_PICKUPS))["me"]["orders"]["edges"]
    assert len(orders) == orders_before + 1


async def test_a_hold_change_is_announced_to_the_stock_changes_hook(gateway, dataset):
    store_id, sku, _ = a_store_sku(dataset)
    heard: list[tuple[str, frozenset[str]]] = []

    class Recorder:
        async def stock_changed(self, store: str, skus: Any) -> None:
            heard.append((store, frozenset(skus)))

    services_of(gateway).holds._changes = Recorder()
    holder, cart = await pickup_guest(gateway, store_id, [{"sku": sku}])
    assert heard == [(store_id, frozenset({sku}))]
    await holder.run(SET_FULFILLMENT, cartId=cart["id"], type="DELIVERY")
    assert heard[-1] == (store_id, frozenset({sku}))
    assert len(heard) == 2


PICKUP_CHECKOUT = """
mutation ($cartId: ID!, $channel: SalesChannel!, $key: String!, $card: String) {
  checkout(cartId: $cartId, channel: $channel, idempotencyKey: $key, paymentToken: $card) {
    order { id channel pickupStatus store { id } }
    userErrors { code message }
  }
}
"""
MY_PICKUPS = """
query { me { orders(first: 20) { edges { node { id channel pickupStatus store { id } } } } } }
"""


async def my_order(device: Device, order_id: str) -> dict[str, Any]:
    edges = (await device.run(MY_PICKUPS))["me"]["orders"]["edges"]
    return next(edge["node"] for edge in edges if edge["node"]["id"] == order_id)


async def test_a_web_pickup_order_carries_its_store_and_shopifys_pickup_status(
    buyer, gateway, dataset, sandbox
):
    store_id, sku, _ = a_store_sku(dataset)
    cart = (await buyer.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    picked = await buyer.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store_id)
    assert picked["cartSetFulfillment"]["userErrors"] == []
    placed = (
        await buyer.run(
            PICKUP_CHECKOUT, cartId=cart["id"], channel="WEB", key="web-pu", card=CARD_OK
        )
    )["checkout"]
    assert placed["userErrors"] == []
    order = placed["order"]
    assert (order["channel"], order["store"], order["pickupStatus"]) == (
        "ONLINE",
        {"id": store_id},
        "PREPARING",
    )

    # the store prepares it in Shopify; the order read back says so
    numeric_id = order["id"].rsplit("/", 1)[-1]
    control = f"{sandbox.url('shopify')}/_sandbox/shopify/orders/{numeric_id}/pickup"
    async with httpx.AsyncClient() as client:
        ready = await client.post(control, json={"displayStatus": "READY_FOR_PICKUP"})
        assert ready.status_code == 200, ready.text
        assert (await my_order(buyer, order["id"]))["pickupStatus"] == "READY_FOR_PICKUP"
        assert (await my_order(buyer, order["id"]))["store"] == {"id": store_id}
        collected = await client.post(control, json={"displayStatus": "PICKED_UP"})
        assert collected.status_code == 200, collected.text
    assert (await my_order(buyer, order["id"]))["pickupStatus"] == "PICKED_UP"


async def test_a_delivered_order_has_no_pickup_status_nor_store(buyer, dataset):
    sku = stocked_skus(dataset, "L0NLINEWH0001", 5, 1)[0]
    cart = (await buyer.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    placed = (
        await buyer.run(
            PICKUP_CHECKOUT, cartId=cart["id"], channel="WEB", key="web-del", card=CARD_OK
        )
    )["checkout"]
    assert placed["userErrors"] == []
    assert (placed["order"]["store"], placed["order"]["pickupStatus"]) == (None, None)


async def test_a_kiosk_pickup_order_reads_squares_pickup_fulfillment(
    buyer, gateway, tokens, dataset
):
    store_id, sku, _ = a_store_sku(dataset)
    cart = (await buyer.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    picked = await buyer.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store_id)
    assert picked["cartSetFulfillment"]["userErrors"] == []
    kiosk = await kiosk_for(gateway, tokens, buyer, store_id)
    placed = (await kiosk.run(PICKUP_CHECKOUT, cartId=cart["id"], channel="KIOSK", key="k-pu"))[
        "checkout"
    ]
    assert placed["userErrors"] == []
    order = placed["order"]
    # Square's PICKUP fulfillment starts PROPOSED: being prepared
    assert (order["channel"], order["store"], order["pickupStatus"]) == (
        "STORE",
        {"id": store_id},
        "PREPARING",
    )
    assert await services_of(gateway).holds.of_cart(cart["id"]) == {}


async def test_a_guest_cart_merged_at_login_releases_its_holds(buyer, gateway, dataset):
    store_id, sku, shelf = a_store_sku(dataset)
    watcher, _ = await guest(gateway)
    holder, cart = await pickup_guest(gateway, store_id, [{"sku": sku, "quantity": 2}])
    assert await shown_at(watcher, sku, store_id) == shelf - 2
    online = stocked_skus(dataset, "L0NLINEWH0001", 5, 1)[0]
    mine = (await buyer.run(CART_CREATE, lines=[{"sku": online}]))["cartCreate"]
    assert mine["userErrors"] == []
    merged = (await buyer.run(MERGE, token=holder.headers["x-cart-token"]))["cartMergeGuest"]
    assert merged["userErrors"] == []
    assert merged["cart"]["id"] == mine["cart"]["id"]
    assert await services_of(gateway).holds.of_cart(cart["id"]) == {}
    assert await shown_at(watcher, sku, store_id) == shelf


WISHLIST_ADD = "mutation ($sku: ID!) { wishlistAdd(sku: $sku) { userErrors { code } } }"
WISHLIST_MOVE = """
mutation ($sku: ID!, $quantity: Int!) {
  wishlistMoveToCart(sku: $sku, quantity: $quantity) {
    wishlist { items { sku } } cart { id lines { sku quantity } } userErrors { code message }
  }
}
"""


async def test_moving_a_wishlist_item_into_a_pickup_cart_holds_it(buyer, gateway, dataset):
    store_id, sku, shelf = a_store_sku(dataset)
    watcher, _ = await guest(gateway)
    cart = (await buyer.run(CART_CREATE))["cartCreate"]["cart"]
    picked = await buyer.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store_id)
    assert picked["cartSetFulfillment"]["userErrors"] == []
    assert (await buyer.run(WISHLIST_ADD, sku=sku))["wishlistAdd"]["userErrors"] == []

    # another cart holds all but one unit: moving two is refused, the item stays listed
    await pickup_guest(gateway, store_id, [{"sku": sku, "quantity": shelf - 1}])
    refused = (await buyer.run(WISHLIST_MOVE, sku=sku, quantity=2))["wishlistMoveToCart"]
    assert codes(refused) == ["OUT_OF_STOCK"]
    assert refused["wishlist"]["items"] == [{"sku": sku}]
    assert refused["cart"]["lines"] == []

    moved = (await buyer.run(WISHLIST_MOVE, sku=sku, quantity=1))["wishlistMoveToCart"]
    assert moved["userErrors"] == []
    assert moved["cart"]["lines"] == [{"sku": sku, "quantity": 1}]
    assert await services_of(gateway).holds.of_cart(cart["id"]) == {(store_id, sku): 1}
    assert await shown_at(watcher, sku, store_id) == 0
