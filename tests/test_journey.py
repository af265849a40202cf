"""The seeds' journey end to end, across channels, through the graph: a customer buys on
social (the mobile app's social storefront), gets a postcard code, abandons a cart and is
sent a time-limited offer, earns loyalty points, spends them at a pop-up store at the total
the app quoted, then refers a friend and both get a voucher."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cart_api import APPLY_CODE, CART_CREATE, CHECKOUT, SET_FULFILLMENT, Device, staff_at
from cart_api import stocked_skus as skus_at
from offers_api import newcomers, put_promotions
from payments_api import pay_at_terminal
from test_outbox import hooked, receiver  # noqa: F401  (the webhook receiver fixtures)

from commerce.offers import Conditions, Limits, OfferKind, Promotion
from sandbox.dataset import WAREHOUSE_LOCATION_ID

# the app says its channel, as for cost and checkout: points go with the channel they
# were applied on (docs/offers.md "Loyalty")
POINTS = """
mutation ($cartId: ID!, $points: Int!) {
  cartApplyLoyaltyPoints(cartId: $cartId, points: $points, channel: MOBILE) {
    userErrors { code }
  }
}
"""
QUOTE = "query ($c: SalesChannel) { cart { quote(channel: $c) { token total { amount } } } }"
BALANCE = "{ me { loyalty { balance } } }"
QUOTED_CHECKOUT = """
mutation ($id: ID!, $key: String!, $q: String) {
  checkout(cartId: $id, channel: STORE, idempotencyKey: $key, quote: $q) {
    order { id total { amount } } userErrors { code }
  }
}
"""
OFFERS = "{ offers { code personal } }"


def loyal_people(dataset) -> list[str]:
    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    pos_by_person = {c.person_key: c.id for c in dataset.pos_customers}
    shop = {c.person_key for c in dataset.shop_customers}
    members = {a.customer_id for a in dataset.loyalty_accounts}
    return [
        c.id
        for c in reversed(dataset.crm_contacts)
        if crm_count[c.person_key] == 1
        and c.person_key in shop
        and pos_by_person.get(c.person_key) in members
    ]


async def test_the_whole_journey(hooked, receiver, tokens, dataset, settings, sandbox):  # noqa: F811
    customer_id, friend_id = loyal_people(dataset)[20], newcomers(dataset)[202]
    token = tokens.customer(customer_id)
    mobile = Device(hooked, {"authorization": f"Bearer {token}"})
    web = Device(hooked, {"authorization": f"Bearer {token}"})
    store = dataset.stores[3].id
    first, second, third = skus_at(dataset, WAREHOUSE_LOCATION_ID, 30, 3)
    popup_sku = skus_at(dataset, store, 5, 1)[0]

    # 1. a purchase on social, through the app
    cart = (await mobile.run(CART_CREATE, lines=[{"sku": first}]))["cartCreate"]["cart"]
    social = await mobile.run(CHECKOUT, cartId=cart["id"], channel="MOBILE", key="social-1")
    assert social["checkout"]["userErrors"] == []
    await receiver.wait_for("ORDER_PLACED")

    # 2. marketing sends a postcard with a code for this customer
    await put_promotions(
        settings,
        Promotion(
            id="postcard-spring",
            kind=OfferKind.FIXED_AMOUNT,
            code="POSTCARD-SPRING",
            value=Decimal(5),
            currency="USD",
            customer_id=customer_id,
            limits=Limits(per_customer=1),
            conditions=Conditions(ends_at=datetime.now(UTC) + timedelta(days=30)),
        ),
    )

    # 3. a cart on the web, left alone: one event with a time-limited personal offer
    cart = (await web.run(CART_CREATE, lines=[{"sku": second, "quantity": 2}]))["cartCreate"]
    cart_id = cart["cart"]["id"]
    [abandoned] = await receiver.wait_for("CART_ABANDONED")
    comeback = abandoned["data"]["offer"]["code"]

    # 4. back on the app: both codes stack, the order earns points
    for code in ("POSTCARD-SPRING", comeback):
        applied = (await mobile.run(APPLY_CODE, cartId=cart_id, code=code))["cartApplyPromoCode"]
        assert applied["userErrors"] == []
    cost = applied["cart"]["cost"]
    subtotal = Decimal(cost["subtotal"]["amount"])
    # stackable, in the order applied, each on the subtotal: 5.00 then 10 %
    assert Decimal(cost["discount"]["amount"]) == 5 + (subtotal / 10).quantize(Decimal("0.01"))
    before = (await mobile.run(BALANCE))["me"]["loyalty"]["balance"]
    placed = await mobile.run(CHECKOUT, cartId=cart_id, channel="MOBILE", key="comeback-1")
    total = Decimal(placed["checkout"]["order"]["total"]["amount"])
    assert total == Decimal(cost["total"]["amount"])
    earned = int(total)
    after = (await mobile.run(BALANCE))["me"]["loyalty"]["balance"]
    assert after == before + earned
    await receiver.wait_for("POINTS_CHANGED")

    # 5. at the pop-up store: points spent at the total the app quoted, once
    cart = (await mobile.run(CART_CREATE, lines=[{"sku": popup_sku}]))["cartCreate"]["cart"]
    await mobile.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store)
    spend = min(after, 200)
    assert (await mobile.run(POINTS, cartId=cart["id"], points=spend))["cartApplyLoyaltyPoints"][
        "userErrors"
    ] == []
    quote = (await mobile.run(QUOTE, c="MOBILE"))["cart"]["quote"]
    till = staff_at(hooked, tokens, store)
    for _ in range(2):  # the till retries: one order, points taken once
        popup = (await till.run(QUOTED_CHECKOUT, id=cart["id"], key="popup-1", q=quote["token"]))[
            "checkout"
        ]
        assert popup["userErrors"] == []
    assert popup["order"]["total"]["amount"] == quote["total"]["amount"]
    unpaid = (await mobile.run(BALANCE))["me"]["loyalty"]["balance"]
    assert unpaid == after - spend, "the points it earns wait for the terminal's payment"
    await pay_at_terminal(sandbox, popup["order"]["id"])
    services = hooked.http._transport.app.state.services
    assert await services.checkout.settle_store_order(popup["order"]["id"]) is True
    final = (await mobile.run(BALANCE))["me"]["loyalty"]["balance"]
    assert final == after - spend + int(Decimal(quote["total"]["amount"]))

    # 6. a referral: the friend's first order gives both a voucher
    code = (await mobile.run("{ referralCode }"))["referralCode"]
    friend = Device(hooked, {"authorization": f"Bearer {tokens.customer(friend_id)}"})
    fcart = (await friend.run(CART_CREATE, lines=[{"sku": third}]))["cartCreate"]["cart"]
    assert (await friend.run(APPLY_CODE, cartId=fcart["id"], code=code))["cartApplyPromoCode"][
        "userErrors"
    ] == []
    done = await friend.run(CHECKOUT, cartId=fcart["id"], channel="WEB", key="friend-1")
    assert done["checkout"]["userErrors"] == []
    for person in (mobile, friend):
        vouchers = [o for o in (await person.run(OFFERS))["offers"] if o["personal"]]
        assert any(o["code"].startswith("THANKS-") for o in vouchers)
