"""Loyalty, kept by Square Loyalty on the sandbox and by omnigate's own ledger in MongoDB
(each test runs once per keeper: the `points` fixture, tests/points_api.py): points earned
on every channel's orders, spent as a discount at checkout on any channel, each exactly
once (retries included), given back when the order is refused, and never spent twice."""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import pytest
from cart_api import CART_CREATE, CHECKOUT, SET_FULFILLMENT, Device, codes, staff_at, stock_at
from cart_api import stocked_skus as skus_at
from payments_api import pay_at_terminal
from points_api import Keeper

from connectors.errors import OrderRejected
from gateway.settings import Settings
from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset

APPLY_POINTS = """
mutation ($cartId: ID!, $points: Int!) {
  cartApplyLoyaltyPoints(cartId: $cartId, points: $points) {
    cart { cost { discount { amount } total { amount } loyaltyPoints loyaltyDiscount { amount } } }
    userErrors { code }
  }
}
"""
ME = "{ me { loyalty { balance lifetimePoints tier } } }"


@pytest.fixture(scope="module")
def members(dataset: Dataset) -> list[tuple[str, str]]:
    """(CRM contact id, loyalty account id) of people known everywhere with at least 300
    points, away from the other modules' buyers."""
    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    pos_by_person = {c.person_key: c.id for c in dataset.pos_customers}
    shop = {c.person_key for c in dataset.shop_customers}
    accounts = {a.customer_id: a for a in dataset.loyalty_accounts}
    found = []
    for contact in dataset.crm_contacts:
        pos_id = pos_by_person.get(contact.person_key)
        account = accounts.get(pos_id) if pos_id else None
        if (
            crm_count[contact.person_key] == 1
            and contact.person_key in shop
            and account is not None
            and account.balance >= 300
        ):
            found.append((contact.id, account.id))
    assert len(found) >= 6
    return found


def member(gateway, tokens, members, index: int) -> tuple[Device, str]:
    contact, account = members[index]
    return Device(gateway, {"authorization": f"Bearer {tokens.customer(contact)}"}), account


@pytest.fixture
async def settings(settings: Settings, points: Keeper) -> Settings:
    """The gateway with this run's keeper of points, its accounts open."""
    chosen = points.settings(settings)
    await points.seed(chosen)
    return chosen


async def filled_cart(shopper: Device, dataset: Dataset, location: str = WAREHOUSE_LOCATION_ID):
    sku = skus_at(dataset, location, 5, 1)[0]
    created = (await shopper.run(CART_CREATE, lines=[{"sku": sku, "quantity": 2}]))["cartCreate"]
    assert created["userErrors"] == []
    return created["cart"]


def floor(amount: str) -> int:
    return int(Decimal(amount).to_integral_value(rounding=ROUND_FLOOR))


async def test_an_online_order_earns_points_once(gateway, tokens, members, dataset, points):
    shopper, account = member(gateway, tokens, members, 0)
    before = await points.balance(account)
    cart = await filled_cart(shopper, dataset)
    answers = [
        (await shopper.run(CHECKOUT, cartId=cart["id"], channel="WEB", key=points.key("earn-web")))[
            "checkout"
        ]
        for _ in range(3)
    ]
    assert answers[0]["order"] is not None, answers[0]
    earned = floor(answers[0]["order"]["total"]["amount"])
    assert earned > 0
    assert await points.balance(account) == (before[0] + earned, before[1] + earned)
    me = (await shopper.run(ME))["me"]["loyalty"]
    assert me["balance"] == before[0] + earned  # the cached profile was refreshed


async def test_a_store_order_earns_points_through_its_square_order_once_paid(
    gateway, tokens, members, dataset, sandbox, points
):
    shopper, account = member(gateway, tokens, members, 1)
    store = dataset.stores[0].id
    cart = await filled_cart(shopper, dataset, store)
    picked = await shopper.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store)
    assert picked["cartSetFulfillment"]["userErrors"] == []
    before = await points.balance(account)
    till = staff_at(gateway, tokens, store)
    placed = (
        await till.run(CHECKOUT, cartId=cart["id"], channel="STORE", key=points.key("earn-pos"))
    )["checkout"]
    assert placed["order"]["channel"] == "STORE"
    assert await points.balance(account) == before, "an unpaid store order earns nothing"
    # the terminal takes the payment; Square's payment event reaches the gateway
    # (tests/test_payments.py delivers the webhook itself)
    await pay_at_terminal(sandbox, placed["order"]["id"])
    checkout = gateway.http._transport.app.state.services.checkout
    assert await checkout.settle_store_order(placed["order"]["id"]) is True
    earned = floor(placed["order"]["total"]["amount"])
    assert (await points.balance(account))[0] == before[0] + earned
    assert await points.earnings() == 1


async def test_points_are_spent_once_at_checkout(gateway, tokens, members, dataset, points):
    shopper, account = member(gateway, tokens, members, 2)
    cart = await filled_cart(shopper, dataset)
    spent = (await shopper.run(APPLY_POINTS, cartId=cart["id"], points=150))[
        "cartApplyLoyaltyPoints"
    ]
    assert spent["userErrors"] == []
    cost = spent["cart"]["cost"]
    assert cost["loyaltyPoints"] == 150
    assert cost["loyaltyDiscount"]["amount"] == "1.50"
    before = await points.balance(account)
    for _ in range(3):  # a retried checkout spends nothing more
        placed = (
            await shopper.run(CHECKOUT, cartId=cart["id"], channel="WEB", key=points.key("burn-1"))
        )["checkout"]
        assert placed["userErrors"] == []
    total = placed["order"]["total"]["amount"]
    assert total == cost["total"]["amount"]
    assert (await points.balance(account))[0] == before[0] - 150 + floor(total)


async def test_points_spent_elsewhere_meanwhile_are_not_spent_twice(
    gateway, tokens, members, dataset, points
):
    shopper, account = member(gateway, tokens, members, 3)
    held = (await points.balance(account))[0]
    cart = await filled_cart(shopper, dataset)
    applied = await shopper.run(APPLY_POINTS, cartId=cart["id"], points=held)
    assert applied["cartApplyLoyaltyPoints"]["userErrors"] == []
    too_many = await shopper.run(APPLY_POINTS, cartId=cart["id"], points=held + 1)
    assert codes(too_many["cartApplyLoyaltyPoints"]) == ["INSUFFICIENT_POINTS"]
    # the shopper spends a point at a till, not through omnigate, before checking out
    await points.spend_elsewhere(account, 1)
    refused = await shopper.run(
        CHECKOUT, cartId=cart["id"], channel="WEB", key=points.key("burn-2")
    )
    refused = refused["checkout"]
    assert codes(refused) == ["INSUFFICIENT_POINTS"]
    assert refused["order"] is None
    assert refused["cart"]["status"] == "OPEN"
    assert (await points.balance(account))[0] == held - 1


async def test_a_refused_order_gives_the_points_back(
    gateway, tokens, members, dataset, points, monkeypatch
):
    shopper, account = member(gateway, tokens, members, 4)
    cart = await filled_cart(shopper, dataset)
    await shopper.run(APPLY_POINTS, cartId=cart["id"], points=100)
    before = await points.balance(account)
    checkout: Any = gateway.http._transport.app.state.services.checkout

    async def refuse(draft: Any) -> Any:
        raise OrderRejected("shopify", "orderCreate", "declined")

    monkeypatch.setattr(checkout._ecommerce, "place_order", refuse)
    rejected = (
        await shopper.run(CHECKOUT, cartId=cart["id"], channel="WEB", key=points.key("burn-3"))
    )["checkout"]
    assert codes(rejected) == ["ORDER_REJECTED"]
    assert (await points.balance(account))[0] == before[0]


async def test_a_guest_cannot_spend_points(gateway, dataset):
    guest = Device(gateway, {})
    sku = skus_at(dataset, WAREHOUSE_LOCATION_ID, 5, 1)[0]
    created = (await guest.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]
    holder = Device(gateway, {"x-cart-token": created["cartToken"]})
    refused = await holder.run(APPLY_POINTS, cartId=created["cart"]["id"], points=10)
    assert codes(refused["cartApplyLoyaltyPoints"]) == ["NO_LOYALTY_ACCOUNT"]


APPLY_POINTS_ON = """
mutation ($cartId: ID!, $points: Int!, $channel: SalesChannel) {
  cartApplyLoyaltyPoints(cartId: $cartId, points: $points, channel: $channel) {
    cart { loyaltyPoints { points channel } }
    userErrors { code field }
  }
}
"""
COST_ON = """
query ($id: ID, $channel: SalesChannel) {
  cart(id: $id) {
    loyaltyPoints { points channel }
    cost(channel: $channel) { loyaltyPoints total { amount } }
  }
}
"""


async def test_points_applied_at_a_till_do_not_ride_into_a_mobile_checkout(
    gateway, tokens, members, dataset, points
):
    """Issue 20: staff apply points at the till, that checkout fails (the store's shelves
    lack the goods), and the customer's next checkout on her phone must not spend them."""
    shopper, account = member(gateway, tokens, members, 5)
    store = dataset.stores[0].id
    sku = next(
        p.sku
        for p in dataset.products
        if stock_at(dataset, p.sku, WAREHOUSE_LOCATION_ID) >= 5
        and stock_at(dataset, p.sku, store) == 0
    )
    cart = (await shopper.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    till = staff_at(gateway, tokens, store)
    applied = (await till.run(APPLY_POINTS_ON, cartId=cart["id"], points=100))[
        "cartApplyLoyaltyPoints"
    ]
    assert applied["userErrors"] == []
    assert applied["cart"]["loyaltyPoints"] == {"points": 100, "channel": "STORE"}
    failed = (
        await till.run(CHECKOUT, cartId=cart["id"], channel="STORE", key=points.key("till-1"))
    )["checkout"]
    assert codes(failed) == ["OUT_OF_STOCK"]
    assert failed["cart"]["status"] == "OPEN"

    # her phone prices the cart without the till's points, and checks out at that price
    on_phone = (await shopper.run(COST_ON, id=cart["id"], channel="MOBILE"))["cart"]
    assert on_phone["loyaltyPoints"] == {"points": 100, "channel": "STORE"}
    assert on_phone["cost"]["loyaltyPoints"] == 0
    before = await points.balance(account)
    placed = (
        await shopper.run(CHECKOUT, cartId=cart["id"], channel="MOBILE", key=points.key("app-1"))
    )["checkout"]
    assert placed["userErrors"] == []
    total = placed["order"]["total"]["amount"]
    assert total == on_phone["cost"]["total"]["amount"]
    assert Decimal(total) == dataset.products_by_sku[sku].price
    assert await points.adjustments(account) == 0  # nothing burned
    assert (await points.balance(account))[0] == before[0] + floor(total)  # earned, not spent


@pytest.mark.parametrize(
    ("index", "applied_by", "applied_on", "checked_out_by", "checked_out_on", "spent"),
    [
        (6, "till", "STORE", "till", "STORE", True),
        (7, "customer", "MOBILE", "customer", "MOBILE", True),
        (8, "customer", "WEB", "customer", "MOBILE", False),
        (9, "customer", "MOBILE", "till", "STORE", False),
        (10, "till", "STORE", "customer", "WEB", False),
    ],
)
async def test_points_are_spent_only_by_a_checkout_on_the_channel_they_were_applied_on(
    gateway,
    tokens,
    members,
    dataset,
    points,
    index,
    applied_by,
    applied_on,
    checked_out_by,
    checked_out_on,
    spent,
):
    shopper, account = member(gateway, tokens, members, index)
    store = dataset.stores[1].id
    cart = await filled_cart(shopper, dataset, store)
    picked = await shopper.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store)
    assert picked["cartSetFulfillment"]["userErrors"] == []
    devices = {"customer": shopper, "till": staff_at(gateway, tokens, store)}
    applied = await devices[applied_by].run(
        APPLY_POINTS_ON, cartId=cart["id"], points=120, channel=applied_on
    )
    assert applied["cartApplyLoyaltyPoints"]["userErrors"] == []
    priced = (await devices[checked_out_by].run(COST_ON, id=cart["id"], channel=checked_out_on))[
        "cart"
    ]
    assert priced["cost"]["loyaltyPoints"] == (120 if spent else 0)
    placed = (
        await devices[checked_out_by].run(
            CHECKOUT, cartId=cart["id"], channel=checked_out_on, key=points.key(f"points-{index}")
        )
    )["checkout"]
    assert placed["userErrors"] == []
    assert placed["order"]["total"]["amount"] == priced["cost"]["total"]["amount"]
    subtotal = dataset.products_by_sku[placed["order"]["lines"][0]["sku"]].price * 2
    assert Decimal(placed["order"]["total"]["amount"]) == subtotal - (
        Decimal("1.20") if spent else 0
    )
    assert await points.adjustments(account) == (1 if spent else 0)


async def test_points_go_on_a_channel_the_caller_acts_on(gateway, tokens, members, dataset):
    shopper, _ = member(gateway, tokens, members, 11)
    cart = await filled_cart(shopper, dataset)
    refused = await shopper.run(APPLY_POINTS_ON, cartId=cart["id"], points=10, channel="STORE")
    assert refused["cartApplyLoyaltyPoints"]["userErrors"] == [
        {"code": "CHANNEL_NOT_ALLOWED", "field": ["channel"]}
    ]
    kept = (await shopper.run(COST_ON, id=cart["id"], channel="WEB"))["cart"]
    assert kept["loyaltyPoints"] is None
    # 0 takes the points off, whichever channel they were on
    await shopper.run(APPLY_POINTS_ON, cartId=cart["id"], points=10, channel="MOBILE")
    cleared = (await shopper.run(APPLY_POINTS_ON, cartId=cart["id"], points=0))[
        "cartApplyLoyaltyPoints"
    ]
    assert cleared == {"cart": {"loyaltyPoints": None}, "userErrors": []}


async def test_a_crash_after_the_points_are_earned_earns_them_once(
    gateway, tokens, members, dataset, points, monkeypatch
):
    """The pod dies after the keeper took the earn, before the checkout noted it: the
    replay under the same key earns under the same derived key, which answers the first."""
    shopper, account = member(gateway, tokens, members, 12)
    before = await points.balance(account)
    cart = await filled_cart(shopper, dataset)
    checkouts: Any = gateway.http._transport.app.state.services.checkout._checkouts

    async def crash(*args: Any) -> None:
        raise RuntimeError("the pod died after the points were earned")

    monkeypatch.setattr(checkouts, "mark_points_earned", crash)
    key = points.key("earn-crash")
    crashed = await shopper.raw(CHECKOUT, cartId=cart["id"], channel="WEB", key=key)
    assert crashed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    monkeypatch.undo()
    retried = (await shopper.run(CHECKOUT, cartId=cart["id"], channel="WEB", key=key))["checkout"]
    assert retried["userErrors"] == []
    earned = floor(retried["order"]["total"]["amount"])
    assert earned > 0
    assert await points.balance(account) == (before[0] + earned, before[1] + earned)
    record = await checkouts.by_order(retried["order"]["id"])
    assert (record.points_earned, record.settled) == (earned, True)
