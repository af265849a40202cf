"""Shopping as every vendor set must serve it: one cart on every device of a customer, a
checkout online and one at a store's till each placing exactly one order per key, loyalty
points spent and earned once, and a promotion code taken off the order's total."""

from __future__ import annotations

import asyncio
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from cart_api import (
    APPLY_CODE,
    CART,
    CART_CREATE,
    CHECKOUT,
    LINES_ADD,
    SET_FULFILLMENT,
    Device,
    online_skus,
    stocked_skus,
)
from offers_api import code_promo, put_promotions

from behaviour.retailer import Retailer
from commerce.offers import Limits, OfferKind

MY_ORDERS = "{ me { orders(first: 50) { edges { node { id channel store { id } } } } } }"
APPLY_POINTS = """
mutation ($cartId: ID!, $points: Int!) {
  cartApplyLoyaltyPoints(cartId: $cartId, points: $points) {
    cart { cost { total { amount } loyaltyPoints loyaltyDiscount { amount } } }
    userErrors { code }
  }
}
"""
MY_POINTS = "{ me { loyalty { balance } } }"


async def my_orders(shopper: Device) -> list[dict[str, Any]]:
    return [edge["node"] for edge in (await shopper.run(MY_ORDERS))["me"]["orders"]["edges"]]


async def checked_out_once(till: Device, cart_id: str, channel: str, key: str) -> dict[str, Any]:
    """The checkout tapped twice at once, then retried three times: the one order."""
    tapped = await asyncio.gather(
        *(till.run(CHECKOUT, cartId=cart_id, channel=channel, key=key) for _ in range(2))
    )
    retried = [await till.run(CHECKOUT, cartId=cart_id, channel=channel, key=key) for _ in "123"]
    answers = [answer["checkout"] for answer in [*tapped, *retried]]
    assert all(answer["userErrors"] == [] for answer in answers), answers
    assert len({answer["order"]["id"] for answer in answers}) == 1
    assert all(answer["replayed"] for answer in answers[2:])
    assert answers[0]["cart"]["status"] == "CHECKED_OUT"
    return dict(answers[0]["order"])


async def test_a_customer_has_one_cart_on_every_device(retailer: Retailer):
    contact = retailer.buyer(1)
    web, app = retailer.shopper(contact), retailer.shopper(contact)
    first, second = online_skus(retailer.dataset, count=2)
    created = (await web.run(CART_CREATE, lines=[{"sku": first, "quantity": 2}]))["cartCreate"]
    cart_id = created["cart"]["id"]
    assert (await app.run(CART_CREATE))["cartCreate"]["cart"]["id"] == cart_id
    added = await app.run(LINES_ADD, cartId=cart_id, lines=[{"sku": second}])
    assert added["cartLinesAdd"]["userErrors"] == []
    seen = (await web.run(CART))["cart"]
    assert seen["id"] == cart_id
    assert sorted((line["sku"], line["quantity"]) for line in seen["lines"]) == sorted(
        [(first, 2), (second, 1)]
    )


async def test_an_online_checkout_places_one_order_per_key(retailer: Retailer):
    shopper = retailer.shopper(retailer.buyer(2))
    lines = [{"sku": sku, "quantity": 1} for sku in online_skus(retailer.dataset, 20, 2)]
    cart = (await shopper.run(CART_CREATE, lines=lines))["cartCreate"]["cart"]
    before = await my_orders(shopper)
    order = await checked_out_once(shopper, cart["id"], "WEB", retailer.key("web"))
    assert order["channel"] == "ONLINE"
    assert order["total"] == cart["cost"]["total"]
    assert sorted((line["sku"], line["quantity"]) for line in order["lines"]) == sorted(
        (line["sku"], line["quantity"]) for line in lines
    )
    after = await my_orders(shopper)
    assert len(after) == len(before) + 1
    assert order["id"] in {o["id"] for o in after}


async def test_a_store_checkout_at_the_till_places_one_order_per_key(retailer: Retailer):
    shopper = retailer.shopper(retailer.buyer(3))
    location = retailer.dataset.stores[2]
    store_id = (await retailer.store_ids())[location.name]
    sku = stocked_skus(retailer.dataset, location.id, 2, 1)[0]
    cart = (await shopper.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    picked = await shopper.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store_id)
    assert picked["cartSetFulfillment"]["userErrors"] == []
    before = await my_orders(shopper)
    till = retailer.till(store_id)
    order = await checked_out_once(till, cart["id"], "STORE", retailer.key("till"))
    assert order["channel"] == "STORE"
    assert order["store"] == {"id": store_id}
    after = await my_orders(shopper)
    assert len(after) == len(before) + 1
    assert {"id": order["id"], "channel": "STORE", "store": {"id": store_id}} in after


async def test_points_are_spent_and_earned_once(retailer: Retailer):
    shopper = retailer.shopper(retailer.member(0))
    balance = (await shopper.run(MY_POINTS))["me"]["loyalty"]["balance"]
    assert balance >= 300
    sku = online_skus(retailer.dataset, 20, 1)[0]
    cart = (await shopper.run(CART_CREATE, lines=[{"sku": sku, "quantity": 2}]))["cartCreate"]
    spent = (await shopper.run(APPLY_POINTS, cartId=cart["cart"]["id"], points=150))[
        "cartApplyLoyaltyPoints"
    ]
    assert spent["userErrors"] == []
    assert spent["cart"]["cost"]["loyaltyPoints"] == 150
    assert spent["cart"]["cost"]["loyaltyDiscount"] == {"amount": "1.50"}
    order = await checked_out_once(shopper, cart["cart"]["id"], "WEB", retailer.key("points"))
    assert order["total"]["amount"] == spent["cart"]["cost"]["total"]["amount"]
    earned = int(Decimal(order["total"]["amount"]).to_integral_value(rounding=ROUND_FLOOR))
    assert earned > 0
    after = (await shopper.run(MY_POINTS))["me"]["loyalty"]["balance"]
    assert after == balance - 150 + earned


async def test_a_promotion_code_is_taken_off_the_order_and_redeemed_once(retailer: Retailer):
    code = f"ONCE{retailer.vendor_set.name.upper()}"
    once = code_promo(code, OfferKind.FIXED_AMOUNT, 5, limits=Limits(per_customer=1))
    await put_promotions(retailer.settings, once)
    shopper = retailer.shopper(retailer.buyer(4))
    sku = online_skus(retailer.dataset, 20, 1)[0]

    async def cart_with_the_code() -> tuple[str, dict[str, Any]]:
        cart = (await shopper.run(CART_CREATE, lines=[{"sku": sku, "quantity": 3}]))["cartCreate"]
        applied = await shopper.run(APPLY_CODE, cartId=cart["cart"]["id"], code=code)
        return cart["cart"]["id"], applied["cartApplyPromoCode"]

    cart_id, applied = await cart_with_the_code()
    assert applied["userErrors"] == []
    cost = applied["cart"]["cost"]
    assert cost["discount"] == {"amount": "5.00"}
    assert Decimal(cost["total"]["amount"]) == Decimal(cost["subtotal"]["amount"]) - 5
    order = await checked_out_once(shopper, cart_id, "WEB", retailer.key("code"))
    assert order["total"] == cost["total"]
    # the retried checkout redeemed it once: once is the customer's limit
    _, again = await cart_with_the_code()
    assert [(e["code"], e["reason"]) for e in again["userErrors"]] == [
        ("PROMO_NOT_APPLICABLE", "ALREADY_USED")
    ]
