"""The offers engine through the graph, on the real sandbox and mongod: automatic and code
promotions on the cart per channel, and redemptions counted exactly once at checkout,
released when the upstream refuses the order, never over the limit under concurrency."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from cart_api import (
    APPLY_CODE,
    CART_CREATE,
    CHECKOUT,
    Device,
    codes,
    kiosk_for,
    known_everywhere,
    staff_at,
)
from cart_api import stocked_skus as skus_at
from offers_api import code_promo, database_read, put_promotions

from commerce.offers import Conditions, Limits, OfferKind, Promotion, Stacking
from connectors.errors import OrderRejected
from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset

PRICED = """
query ($channel: SalesChannel) {
  cart {
    id
    cost(channel: $channel) {
      subtotal { amount } discount { amount } total { amount } freeShipping
    }
    discounts(channel: $channel) { promotionId title code kind amount { amount } }
    promoCodes(channel: $channel) { code applicable reason }
  }
}
"""
APPLY_ON = """
mutation ($cartId: ID!, $code: String!, $channel: SalesChannel) {
  cartApplyPromoCode(cartId: $cartId, code: $code, channel: $channel) {
    cart { id } userErrors { code reason }
  }
}
"""


@pytest.fixture(scope="module")
def buyers(dataset: Dataset) -> list[str]:
    """CRM contacts known to the POS and the online shop, away from the ones the checkout
    and customer tests count orders for."""
    found = known_everywhere(dataset)
    assert len(found) >= 30
    return found[12:30]


def device(gateway, tokens, customer_id: str) -> Device:
    return Device(gateway, {"authorization": f"Bearer {tokens.customer(customer_id)}"})


async def cart_with(shopper: Device, dataset: Dataset, quantity: int = 1) -> dict[str, Any]:
    sku = skus_at(dataset, WAREHOUSE_LOCATION_ID, 50, 1)[0]
    created = await shopper.run(CART_CREATE, lines=[{"sku": sku, "quantity": quantity}])
    assert created["cartCreate"]["userErrors"] == []
    return dict(created["cartCreate"]["cart"])


async def test_automatic_promotions_apply_per_channel(gateway, tokens, buyers, dataset, settings):
    await put_promotions(
        settings,
        Promotion(
            id="kiosk-5",
            title="5 % at the kiosk",
            kind=OfferKind.PERCENTAGE,
            value=Decimal(5),
            conditions=Conditions(channels=("KIOSK",)),
        ),
        Promotion(id="ship-free", title="Free shipping", kind=OfferKind.FREE_SHIPPING),
    )
    shopper = device(gateway, tokens, buyers[0])
    cart = await cart_with(shopper, dataset, quantity=2)
    subtotal = Decimal(cart["cost"]["subtotal"]["amount"])
    web = (await shopper.run(PRICED))["cart"]  # a customer token prices for WEB
    assert web["cost"]["discount"]["amount"] == "0.00"
    assert web["cost"]["freeShipping"] is True
    assert [d["promotionId"] for d in web["discounts"]] == ["ship-free"]
    # the customer's own token is online: the kiosk's price is the kiosk's to ask for
    asked = await shopper.raw(PRICED, channel="KIOSK")
    assert {e["extensions"]["code"] for e in asked["errors"]} == {"CHANNEL_NOT_ALLOWED"}
    at_kiosk = await kiosk_for(gateway, tokens, shopper, dataset.stores[0].id)
    kiosk = (await at_kiosk.run(PRICED))["cart"]  # a kiosk prices for KIOSK
    off = (subtotal * Decimal("0.05")).quantize(Decimal("0.01"))
    assert Decimal(kiosk["cost"]["discount"]["amount"]) == off
    assert Decimal(kiosk["cost"]["total"]["amount"]) == subtotal - off
    assert {d["promotionId"] for d in kiosk["discounts"]} == {"kiosk-5", "ship-free"}


async def test_a_code_says_why_it_is_refused_on_this_channel(
    gateway, tokens, buyers, dataset, settings
):
    await put_promotions(
        settings,
        code_promo(
            "POPUP",
            OfferKind.FIXED_AMOUNT,
            3,
            conditions=Conditions(channels=("STORE", "KIOSK")),
        ),
    )
    shopper = device(gateway, tokens, buyers[1])
    me = (await shopper.run("{ me { loyalty { tier } } }"))["me"]
    tier = me["loyalty"]["tier"] if me["loyalty"] else None
    others = tuple(t for t in ("BRONZE", "SILVER", "GOLD") if t != tier)
    await put_promotions(
        settings,
        code_promo("TIERED", OfferKind.PERCENTAGE, 20, conditions=Conditions(tiers=others)),
    )
    cart = await cart_with(shopper, dataset)
    web = (await shopper.run(APPLY_ON, cartId=cart["id"], code="popup"))["cartApplyPromoCode"]
    assert web["userErrors"] == [{"code": "PROMO_NOT_APPLICABLE", "reason": "CHANNEL_NOT_ELIGIBLE"}]
    asked = (await shopper.run(APPLY_ON, cartId=cart["id"], code="popup", channel="STORE"))[
        "cartApplyPromoCode"
    ]
    assert asked["userErrors"] == [{"code": "CHANNEL_NOT_ALLOWED", "reason": None}]
    till = staff_at(gateway, tokens, dataset.stores[0].id)
    store = (await till.run(APPLY_ON, cartId=cart["id"], code="popup", channel="STORE"))[
        "cartApplyPromoCode"
    ]
    assert store["userErrors"] == []
    gold = (await shopper.run(APPLY_ON, cartId=cart["id"], code="TIERED"))["cartApplyPromoCode"]
    assert gold["userErrors"] == [
        {"code": "PROMO_NOT_APPLICABLE", "reason": "CUSTOMER_NOT_ELIGIBLE"}
    ]
    # on the web the applied store code stays on the cart, taking nothing off, with its reason
    priced = (await shopper.run(PRICED, channel="WEB"))["cart"]
    assert priced["promoCodes"] == [
        {"code": "POPUP", "applicable": False, "reason": "CHANNEL_NOT_ELIGIBLE"}
    ]


async def test_an_exclusive_code_is_refused_next_to_a_higher_priority_one(
    gateway, tokens, buyers, dataset, settings
):
    await put_promotions(
        settings,
        code_promo("FIRST", OfferKind.PERCENTAGE, 10, priority=5),
        code_promo("ALONE", OfferKind.FIXED_AMOUNT, 1, stacking=Stacking.EXCLUSIVE),
    )
    shopper = device(gateway, tokens, buyers[2])
    cart = await cart_with(shopper, dataset)
    assert (
        codes(
            (await shopper.run(APPLY_CODE, cartId=cart["id"], code="FIRST"))["cartApplyPromoCode"]
        )
        == []
    )
    refused = (await shopper.run(APPLY_CODE, cartId=cart["id"], code="ALONE"))["cartApplyPromoCode"]
    assert [(e["code"], e["reason"]) for e in refused["userErrors"]] == [
        ("PROMO_NOT_APPLICABLE", "NOT_COMBINABLE")
    ]


async def test_concurrent_checkouts_redeem_a_limited_code_exactly_n_times(
    gateway, tokens, buyers, dataset, settings
):
    limit, shoppers = 3, [device(gateway, tokens, b) for b in buyers[3:11]]
    await put_promotions(
        settings, code_promo("FIRST3", OfferKind.FIXED_AMOUNT, 2, limits=Limits(total=limit))
    )
    carts = [await cart_with(s, dataset) for s in shoppers]
    for shopper, cart in zip(shoppers, carts, strict=True):
        applied = await shopper.run(APPLY_CODE, cartId=cart["id"], code="FIRST3")
        assert applied["cartApplyPromoCode"]["userErrors"] == []
    answers = await asyncio.gather(
        *(
            s.run(CHECKOUT, cartId=c["id"], channel="WEB", key=f"first3-{i}")
            for i, (s, c) in enumerate(zip(shoppers, carts, strict=True))
        )
    )
    placed = [a["checkout"] for a in answers if a["checkout"]["order"] is not None]
    refused = [a["checkout"] for a in answers if a["checkout"]["order"] is None]
    assert len(placed) == limit
    assert {(e["code"], e["reason"]) for r in refused for e in r["userErrors"]} == {
        ("PROMO_NOT_APPLICABLE", "USAGE_LIMIT_REACHED")
    }
    assert all(r["cart"]["status"] == "OPEN" for r in refused)  # nothing was frozen
    [promotion] = await database_read(settings, "promotions", {"_id": "promo-first3"})
    assert promotion["redeemed"] == limit
    records = await database_read(settings, "redemptions", {"promotion_id": "promo-first3"})
    assert Counter(r["state"] for r in records) == {"COMMITTED": limit}
    # each placed order carries the discount (every cart holds the same line)
    subtotal = Decimal(carts[0]["cost"]["subtotal"]["amount"])
    assert {Decimal(a["order"]["total"]["amount"]) for a in placed} == {subtotal - 2}


async def test_a_code_used_up_before_checkout_refuses_it_rather_than_charging_full_price(
    gateway, tokens, buyers, dataset, settings
):
    """The same answer as a limit filling between pricing and reservation (above), when it
    filled before the checkout priced the cart: the shopper saw the discount, so the order
    is not placed without it."""
    await put_promotions(
        settings, code_promo("LAST1", OfferKind.FIXED_AMOUNT, 2, limits=Limits(total=1))
    )
    first, second = (device(gateway, tokens, b) for b in buyers[13:15])
    carts = [await cart_with(s, dataset) for s in (first, second)]
    for shopper, cart in zip((first, second), carts, strict=True):
        applied = await shopper.run(APPLY_CODE, cartId=cart["id"], code="LAST1")
        assert applied["cartApplyPromoCode"]["userErrors"] == []
    placed = await first.run(CHECKOUT, cartId=carts[0]["id"], channel="WEB", key="last1-a")
    assert placed["checkout"]["order"] is not None

    refused = (await second.run(CHECKOUT, cartId=carts[1]["id"], channel="WEB", key="last1-b"))[
        "checkout"
    ]
    assert refused["order"] is None
    assert [(e["code"], e["reason"]) for e in refused["userErrors"]] == [
        ("PROMO_NOT_APPLICABLE", "USAGE_LIMIT_REACHED")
    ]
    assert refused["cart"]["status"] == "OPEN"
    [promotion] = await database_read(settings, "promotions", {"_id": "promo-last1"})
    assert promotion["redeemed"] == 1


async def test_a_per_customer_code_is_redeemed_once_even_when_the_checkout_is_retried(
    gateway, tokens, buyers, dataset, settings
):
    await put_promotions(
        settings, code_promo("ONCE", OfferKind.PERCENTAGE, 10, limits=Limits(per_customer=1))
    )
    shopper = device(gateway, tokens, buyers[11])
    cart = await cart_with(shopper, dataset)
    await shopper.run(APPLY_CODE, cartId=cart["id"], code="ONCE")
    for _ in range(3):
        answer = (await shopper.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="once-1"))[
            "checkout"
        ]
        assert answer["order"] is not None
    [usage] = await database_read(settings, "promotion_usage", {"promotion_id": "promo-once"})
    assert usage["count"] == 1
    again = await cart_with(shopper, dataset)
    refused = (await shopper.run(APPLY_CODE, cartId=again["id"], code="ONCE"))["cartApplyPromoCode"]
    assert [(e["code"], e["reason"]) for e in refused["userErrors"]] == [
        ("PROMO_NOT_APPLICABLE", "ALREADY_USED")
    ]


async def test_a_refused_order_releases_the_redemption(
    gateway, tokens, buyers, dataset, settings, monkeypatch
):
    await put_promotions(
        settings, code_promo("LASTONE", OfferKind.FIXED_AMOUNT, 1, limits=Limits(total=1))
    )
    shopper = device(gateway, tokens, buyers[12])
    cart = await cart_with(shopper, dataset)
    await shopper.run(APPLY_CODE, cartId=cart["id"], code="LASTONE")
    checkout = gateway.http._transport.app.state.services.checkout

    async def refuse(draft: Any) -> Any:
        raise OrderRejected("shopify", "orderCreate", "card declined")

    monkeypatch.setattr(checkout._ecommerce, "place_order", refuse)
    rejected = (await shopper.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="last-1"))[
        "checkout"
    ]
    assert codes(rejected) == ["ORDER_REJECTED"]
    [promotion] = await database_read(settings, "promotions", {"_id": "promo-lastone"})
    assert promotion["redeemed"] == 0
    monkeypatch.undo()
    placed = (await shopper.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="last-2"))[
        "checkout"
    ]
    assert placed["userErrors"] == []
    [promotion] = await database_read(settings, "promotions", {"_id": "promo-lastone"})
    assert promotion["redeemed"] == 1
