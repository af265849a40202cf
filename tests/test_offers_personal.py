"""`offers`: what one customer is offered on one channel, personalised by tier, vouchers,
wishlist and cart, never about what they already bought."""

from __future__ import annotations

from decimal import Decimal

from cart_api import CART_CREATE, CHECKOUT, Device, online_skus
from offers_api import known_everywhere, put_promotions

from gateway.offers import Conditions, OfferKind, Promotion

OFFERS = "query ($channel: SalesChannel) { offers(channel: $channel) { promotionId personal } }"
WISH = "mutation ($sku: ID!) { wishlistAdd(sku: $sku) { userErrors { code } } }"


def auto(pid: str, priority: int = 0, **conditions: object) -> Promotion:
    return Promotion(
        id=pid,
        kind=OfferKind.PERCENTAGE,
        value=Decimal(5),
        priority=priority,
        conditions=Conditions(**conditions),  # type: ignore[arg-type]
    )


async def test_offers_are_personal_and_skip_what_was_bought(gateway, tokens, dataset, settings):
    me_id, other_id = known_everywhere(dataset)[40:42]
    me = Device(gateway, {"authorization": f"Bearer {tokens.customer(me_id)}"})
    bought, wished, other = online_skus(dataset, count=3)
    tier = (await me.run("{ me { loyalty { tier } } }"))["me"]["loyalty"]
    my_tier = tier["tier"] if tier else "NONE"
    await put_promotions(
        settings,
        auto("general", priority=50),
        auto("about-bought", priority=90, skus=(bought,)),
        auto("about-wished", skus=(wished,)),
        auto("about-other", skus=(other,)),
        auto("kiosk-only", channels=("KIOSK",)),
        auto("my-tier", tiers=(my_tier,)),
        auto("not-my-tier", tiers=("PLATINUM-NOBODY",)),
        Promotion(
            id="my-voucher",
            kind=OfferKind.FIXED_AMOUNT,
            code="MINE-1",
            value=Decimal(5),
            customer_id=me_id,
        ),
        Promotion(
            id="their-voucher",
            kind=OfferKind.FIXED_AMOUNT,
            code="THEIRS-1",
            value=Decimal(5),
            customer_id=other_id,
        ),
        Promotion(id="postcard", kind=OfferKind.FIXED_AMOUNT, code="POSTCARD", value=Decimal(5)),
    )
    cart = (await me.run(CART_CREATE, lines=[{"sku": bought}]))["cartCreate"]["cart"]
    placed = await me.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="personal-1")
    assert placed["checkout"]["userErrors"] == []
    assert (await me.run(WISH, sku=wished))["wishlistAdd"]["userErrors"] == []

    offered = [o["promotionId"] for o in (await me.run(OFFERS))["offers"]]
    assert offered[0] == "my-voucher"  # personal first
    assert offered[1] == "about-wished"  # then what the customer wants
    assert set(offered) == {
        "my-voucher",
        "about-wished",
        "general",
        "about-other",
        *(["my-tier"] if tier else []),
    }
    at_kiosk = [o["promotionId"] for o in (await me.run(OFFERS, channel="KIOSK"))["offers"]]
    assert "kiosk-only" in at_kiosk
    anonymous = [o["promotionId"] for o in (await Device(gateway, {}).run(OFFERS))["offers"]]
    assert set(anonymous) == {"general", "about-bought", "about-wished", "about-other"}
