"""Checkout against the real sandbox vendors and mongod: one upstream order per key, the
cart closed with it, also after retries, twins and a crash in between."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cart_api import (
    CART,
    CART_CREATE,
    CHECKOUT,
    LINES_ADD,
    SET_FULFILLMENT,
    Device,
    codes,
    kiosk_for,
    known_everywhere,
    staff_at,
)
from cart_api import stocked_skus as skus_at

from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset

MY_ORDERS = """
query { me { orders(first: 50) { edges { node { id channel total { amount } } } } } }
"""


@pytest.fixture(scope="module")
def buyers(dataset: Dataset) -> list[str]:
    """CRM contacts known to the POS and the online shop too, taken from the end of the
    dataset so the order-history tests' people see no new orders."""
    found = known_everywhere(dataset)
    assert len(found) >= 10
    return found


@pytest.fixture
def buyer(gateway, tokens, buyers, request) -> Device:
    # one buyer per test (by its position in this module) so order counts stay exact
    index = list(request.module.__dict__).index(request.function.__name__) % len(buyers)
    return Device(gateway, {"authorization": f"Bearer {tokens.customer(buyers[index])}"})


def services_of(gateway) -> Any:
    return gateway.http._transport.app.state.services


async def my_orders(device: Device) -> list[dict[str, Any]]:
    data = await device.run(MY_ORDERS)
    return [edge["node"] for edge in data["me"]["orders"]["edges"]]


async def filled_cart(device: Device, dataset: Dataset, count: int = 2) -> dict[str, Any]:
    skus = skus_at(dataset, WAREHOUSE_LOCATION_ID, 20, count)
    lines = [{"sku": sku, "quantity": 1 + i} for i, sku in enumerate(skus)]
    payload = (await device.run(CART_CREATE, lines=lines))["cartCreate"]
    assert payload["userErrors"] == []
    return dict(payload["cart"])


async def pickup_cart(device: Device, dataset: Dataset, store_id: str) -> dict[str, Any]:
    sku = skus_at(dataset, store_id, 2, 1)[0]
    cart = (await device.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    picked = (
        await device.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store_id)
    )["cartSetFulfillment"]
    assert picked["userErrors"] == []
    return dict(picked["cart"])


async def test_web_checkout_places_one_online_order_and_closes_the_cart(buyer, dataset):
    cart = await filled_cart(buyer, dataset)
    before = await my_orders(buyer)
    placed = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="web-1"))["checkout"]
    assert placed["userErrors"] == []
    order = placed["order"]
    assert order["channel"] == "ONLINE"
    assert order["total"] == {
        "amount": cart["cost"]["total"]["amount"],
        "currency": cart["cost"]["total"]["currency"],
    }
    assert sorted((x["sku"], x["quantity"]) for x in order["lines"]) == sorted(
        (x["sku"], x["quantity"]) for x in cart["lines"]
    )
    assert placed["cart"]["status"] == "CHECKED_OUT"
    assert placed["replayed"] is False
    after = await my_orders(buyer)
    assert len(after) == len(before) + 1
    assert order["id"] in {o["id"] for o in after}
    # the next cartCreate starts a fresh cart
    fresh = (await buyer.run(CART_CREATE))["cartCreate"]["cart"]
    assert fresh["id"] != cart["id"]
    assert fresh["lines"] == []


@pytest.mark.parametrize("channel", ["WEB", "STORE"])
async def test_a_key_retried_five_times_makes_one_upstream_order(
    buyer, gateway, tokens, dataset, channel
):
    if channel == "STORE":
        # the customer's pickup cart, checked out at the till of that store
        cart = await pickup_cart(buyer, dataset, dataset.stores[0].id)
        till = staff_at(gateway, tokens, dataset.stores[0].id)
    else:
        cart = await filled_cart(buyer, dataset)
        till = buyer
    before = len(await my_orders(buyer))
    key = f"retry-{channel}"
    # two at once (a double tap), then three more retries
    twins = await asyncio.gather(
        *(till.run(CHECKOUT, cartId=cart["id"], channel=channel, key=key) for _ in range(2))
    )
    later = [
        await till.run(CHECKOUT, cartId=cart["id"], channel=channel, key=key) for _ in range(3)
    ]
    answers = [payload["checkout"] for payload in [*twins, *later]]
    assert all(answer["userErrors"] == [] for answer in answers)
    assert len({answer["order"]["id"] for answer in answers}) == 1
    assert all(answer["replayed"] for answer in answers[2:])
    assert len(await my_orders(buyer)) == before + 1
    if channel == "STORE":
        assert answers[0]["order"]["channel"] == "STORE"
        assert answers[0]["order"]["store"] == {"id": dataset.stores[0].id}


async def test_the_same_key_for_another_cart_is_refused(buyer, dataset):
    first = await filled_cart(buyer, dataset)
    await buyer.run(CHECKOUT, cartId=first["id"], channel="WEB", key="shared-key")
    second = await filled_cart(buyer, dataset, count=1)
    assert second["id"] != first["id"]
    refused = (await buyer.run(CHECKOUT, cartId=second["id"], channel="WEB", key="shared-key"))[
        "checkout"
    ]
    assert codes(refused) == ["IDEMPOTENCY_KEY_REUSED"]
    assert refused["order"] is None
    assert refused["cart"]["status"] == "OPEN"
    other_channel = (
        await buyer.run(CHECKOUT, cartId=first["id"], channel="MOBILE", key="shared-key")
    )["checkout"]
    assert codes(other_channel) == ["IDEMPOTENCY_KEY_REUSED"]


@pytest.mark.parametrize("channel", ["WEB", "KIOSK"])
async def test_a_crash_after_the_upstream_order_is_reconciled_on_retry(
    buyer, gateway, tokens, dataset, channel, monkeypatch
):
    if channel == "KIOSK":
        cart = await pickup_cart(buyer, dataset, dataset.stores[1].id)
        # the customer handed their identity to a kiosk of the store, which checks out
        checker = await kiosk_for(gateway, tokens, buyer, dataset.stores[1].id)
    else:
        cart = await filled_cart(buyer, dataset, count=1)
        checker = buyer
    service = services_of(gateway).checkout
    before = len(await my_orders(buyer))

    async def crash(record: Any) -> None:
        raise RuntimeError("the pod died right after the upstream order")

    monkeypatch.setattr(service, "after_upstream_order", crash)
    crashed = await checker.raw(CHECKOUT, cartId=cart["id"], channel=channel, key="crashy")
    assert crashed["data"] is None
    assert crashed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    # the order exists upstream, the cart is still frozen for this key
    assert len(await my_orders(buyer)) == before + 1
    frozen = (await buyer.run(CART, id=cart["id"]))["cart"]
    assert frozen["status"] == "CHECKING_OUT"
    edit = (await buyer.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": "X"}]))["cartLinesAdd"]
    assert codes(edit) == ["CHECKOUT_IN_PROGRESS"]

    monkeypatch.undo()
    retried = (await checker.run(CHECKOUT, cartId=cart["id"], channel=channel, key="crashy"))[
        "checkout"
    ]
    assert retried["userErrors"] == []
    assert retried["cart"]["status"] == "CHECKED_OUT"
    orders = await my_orders(buyer)
    assert len(orders) == before + 1
    assert retried["order"]["id"] in {o["id"] for o in orders}


async def test_refusals_before_anything_goes_upstream(buyer, gateway, dataset, sandbox):
    empty = (await buyer.run(CART_CREATE))["cartCreate"]["cart"]
    refused = (await buyer.run(CHECKOUT, cartId=empty["id"], channel="WEB", key="k1"))["checkout"]
    assert codes(refused) == ["EMPTY_CART"]
    cart = await filled_cart(buyer, dataset, count=1)
    sandbox.reset_calls()
    not_theirs = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="STORE", key="k2"))[
        "checkout"
    ]
    assert codes(not_theirs) == ["CHANNEL_NOT_ALLOWED"]
    assert not_theirs["userErrors"][0]["field"] == ["channel"]
    bad_key = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="WEB", key=""))["checkout"]
    assert codes(bad_key) == ["INVALID_IDEMPOTENCY_KEY"]
    assert sandbox.calls("square").get("POST /v2/orders", 0) == 0
    assert not any("orderCreate" in name for name in sandbox.calls("shopify"))


async def test_a_guest_checks_out_online_with_the_cart_token(gateway, dataset):
    anonymous = Device(gateway, {})
    created = (
        await anonymous.run(
            CART_CREATE, lines=[{"sku": skus_at(dataset, WAREHOUSE_LOCATION_ID, 5, 1)[0]}]
        )
    )["cartCreate"]
    guest = Device(gateway, {"x-cart-token": created["cartToken"]})
    placed = (await guest.run(CHECKOUT, cartId=created["cart"]["id"], channel="WEB", key="g"))[
        "checkout"
    ]
    assert placed["userErrors"] == []
    assert placed["order"]["channel"] == "ONLINE"
    assert placed["cart"]["status"] == "CHECKED_OUT"
    stranger = (
        await anonymous.run(CHECKOUT, cartId=created["cart"]["id"], channel="WEB", key="g")
    )["checkout"]
    assert codes(stranger) == ["NOT_FOUND"]


async def test_staff_check_out_a_customers_cart_at_their_own_store(
    gateway, tokens, buyers, dataset
):
    store = dataset.stores[2]
    staff = Device(gateway, {"authorization": f"Bearer {tokens.staff(store.id)}"})
    sku = skus_at(dataset, store.id, 2, 1)[0]
    built = (
        await staff.run(
            """mutation ($c: ID, $lines: [CartLineInput!]) {
                 cartCreate(customerId: $c, lines: $lines) { cart { id } userErrors { code } }
               }""",
            c=buyers[-1],
            lines=[{"sku": sku}],
        )
    )["cartCreate"]
    cart_id = built["cart"]["id"]
    placed = (await staff.run(CHECKOUT, cartId=cart_id, channel="STORE", key="till-1"))["checkout"]
    assert placed["userErrors"] == []
    assert placed["order"]["channel"] == "STORE"
    assert placed["order"]["store"] == {"id": store.id}
    customer = Device(gateway, {"authorization": f"Bearer {tokens.customer(buyers[-1])}"})
    assert placed["order"]["id"] in {o["id"] for o in await my_orders(customer)}
