"""Referrals: a customer's code, the friend's discount, and a voucher for both once the
friend's order completes, issued once however often the checkout is replayed."""

from __future__ import annotations

from decimal import Decimal

from cart_api import APPLY_CODE, CART_CREATE, CHECKOUT, Device, codes, online_skus
from offers_api import database_read, newcomers, ordered_before

REFERRAL = "{ referralCode }"
OFFERS = "{ offers { promotionId code kind value currency personal } }"


def shopper(gateway, tokens, contact_id: str) -> Device:
    return Device(gateway, {"authorization": f"Bearer {tokens.customer(contact_id)}"})


async def test_a_friends_first_order_gives_both_a_voucher(gateway, tokens, dataset, settings):
    referrer = shopper(gateway, tokens, dataset.crm_contacts[-60].id)
    friend = shopper(gateway, tokens, newcomers(dataset)[200])
    code = (await referrer.run(REFERRAL))["referralCode"]
    assert code.startswith("REF-")
    assert (await referrer.run(REFERRAL))["referralCode"] == code  # one code per customer
    assert (await Device(gateway, {}).run(REFERRAL))["referralCode"] is None

    sku = online_skus(dataset, count=1)[0]
    own = (await referrer.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    refused = (await referrer.run(APPLY_CODE, cartId=own["id"], code=code))["cartApplyPromoCode"]
    assert [e["reason"] for e in refused["userErrors"]] == ["CUSTOMER_NOT_ELIGIBLE"]

    cart = (await friend.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    applied = await friend.run(APPLY_CODE, cartId=cart["id"], code=code.lower())
    applied = applied["cartApplyPromoCode"]
    assert applied["userErrors"] == []
    subtotal = Decimal(applied["cart"]["cost"]["subtotal"]["amount"])
    assert Decimal(applied["cart"]["cost"]["discount"]["amount"]) == (subtotal / 10).quantize(
        Decimal("0.01")
    )
    for _ in range(2):  # a replayed checkout issues nothing more
        placed = await friend.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="ref-1")
        assert placed["checkout"]["userErrors"] == []
    vouchers = await database_read(settings, "promotions", {"customer_id": {"$type": "string"}})
    assert len(vouchers) == 2

    for person in (referrer, friend):
        offered = [o for o in (await person.run(OFFERS))["offers"] if o["personal"]]
        assert len(offered) == 1
        assert offered[0]["kind"] == "FIXED_AMOUNT"
        assert Decimal(offered[0]["value"]) == settings.offers.referral_reward_amount
    # the referrer's voucher works for the referrer, not for the friend
    voucher = next(o for o in (await referrer.run(OFFERS))["offers"] if o["personal"])["code"]
    used = (await referrer.run(APPLY_CODE, cartId=own["id"], code=voucher))["cartApplyPromoCode"]
    assert used["userErrors"] == []
    again = (await friend.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    stolen = (await friend.run(APPLY_CODE, cartId=again["id"], code=voucher))["cartApplyPromoCode"]
    assert [e["reason"] for e in stolen["userErrors"]] == ["CUSTOMER_NOT_ELIGIBLE"]
    # and the referral code was the friend's once: their next order is not a first order
    twice = (await friend.run(APPLY_CODE, cartId=again["id"], code=code))["cartApplyPromoCode"]
    assert [e["reason"] for e in twice["userErrors"]] == ["NOT_FIRST_ORDER"]


async def test_a_referral_code_is_for_a_first_order_only(gateway, tokens, dataset):
    """Someone with past orders on any channel (here seeded POS receipts, never seen by
    omnigate) is refused a friend's code: it is a welcome, not a coupon."""
    code = (await shopper(gateway, tokens, newcomers(dataset)[201]).run(REFERRAL))["referralCode"]
    regular = shopper(gateway, tokens, ordered_before(dataset)[200])
    cart = (await regular.run(CART_CREATE, lines=[{"sku": online_skus(dataset)[0]}]))["cartCreate"][
        "cart"
    ]
    refused = (await regular.run(APPLY_CODE, cartId=cart["id"], code=code))["cartApplyPromoCode"]
    assert [(e["code"], e["reason"]) for e in refused["userErrors"]] == [
        ("PROMO_NOT_APPLICABLE", "NOT_FIRST_ORDER")
    ]


async def test_a_guest_is_asked_to_sign_in_for_a_referral_code(gateway, tokens, dataset):
    code = (await shopper(gateway, tokens, dataset.crm_contacts[-62].id).run(REFERRAL))[
        "referralCode"
    ]
    guest = Device(gateway, {})
    created = await guest.run(CART_CREATE, lines=[{"sku": online_skus(dataset)[0]}])
    holder = Device(gateway, {"x-cart-token": created["cartCreate"]["cartToken"]})
    refused = await holder.run(APPLY_CODE, cartId=created["cartCreate"]["cart"]["id"], code=code)
    assert codes(refused["cartApplyPromoCode"]) == ["PROMO_NOT_APPLICABLE"]
    assert refused["cartApplyPromoCode"]["userErrors"][0]["reason"] == "SIGN_IN_REQUIRED"
