"""`offers`: what one customer is offered on one channel, personalised by tier, vouchers,
wishlist and cart, never about what they already bought."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cart_api import CART_CREATE, CHECKOUT, Device, kiosk_for, known_everywhere, online_skus
from offers_api import ordered_before, put_promotions
from pymongo import AsyncMongoClient

from commerce.offers import Conditions, OfferKind, Promotion, PromotionStore
from gateway.settings import Settings

OFFERS = "query ($channel: SalesChannel) { offers(channel: $channel) { promotionId personal } }"
WISH = "mutation ($sku: ID!) { wishlistAdd(sku: $sku) { userErrors { code } } }"


async def add_segment(settings: Settings, customer_id: str, segment: str) -> None:
    """As a marketing tool would: the customer joins a segment in `customer_segments`."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value()
    )
    try:
        await PromotionStore(client[settings.mongodb_database]).add_segment(customer_id, segment)
    finally:
        await client.close()


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
    kiosk = await kiosk_for(gateway, tokens, me, dataset.stores[0].id)
    at_kiosk = [o["promotionId"] for o in (await kiosk.run(OFFERS, channel="KIOSK"))["offers"]]
    assert "kiosk-only" in at_kiosk
    assert "my-voucher" in at_kiosk  # the hand-off keeps them personal
    anonymous = [o["promotionId"] for o in (await Device(gateway, {}).run(OFFERS))["offers"]]
    assert set(anonymous) == {"general", "about-bought", "about-wished", "about-other"}


def till_regular(dataset) -> tuple[str, str, set[str]]:
    """A CRM contact with seeded POS receipts and a loyalty account (so a tier), a SKU they
    bought at a till (history omnigate never saw), and every SKU they bought anywhere."""
    pos_by_person = {c.person_key: c.id for c in dataset.pos_customers}
    shop_by_person = {c.person_key: c.id for c in dataset.shop_customers}
    members = {a.customer_id for a in dataset.loyalty_accounts}
    for contact_id in ordered_before(dataset)[150:]:
        person = next(c.person_key for c in dataset.crm_contacts if c.id == contact_id)
        pos_id = pos_by_person[person]
        if pos_id in members:
            receipts = [o for o in dataset.pos_orders if o.customer_id == pos_id]
            online = [
                o for o in dataset.online_orders if o.customer_id == shop_by_person.get(person)
            ]
            bought = {line.sku for o in [*receipts, *online] for line in o.line_items}
            return contact_id, receipts[0].line_items[0].sku, bought
    raise AssertionError("no seeded POS regular with a loyalty account")


async def test_offers_follow_segment_tier_till_purchases_and_the_cart(
    gateway, tokens, dataset, settings
):
    contact, bought_at_till, bought = till_regular(dataset)
    me = Device(gateway, {"authorization": f"Bearer {tokens.customer(contact)}"})
    loyalty = (await me.run("{ me { loyalty { tier } } }"))["me"]["loyalty"]
    assert loyalty is not None
    assert loyalty["tier"]
    in_cart = next(s for s in online_skus(dataset, count=30) if s not in bought)
    await add_segment(settings, contact, "VIP")
    await put_promotions(
        settings,
        auto("general", priority=50),
        auto("vip", segments=("VIP",)),
        auto("lapsed", segments=("LAPSED",)),
        auto("my-tier", tiers=(loyalty["tier"],)),
        auto("other-tier", tiers=("PLATINUM-NOBODY",)),
        auto("about-till-purchase", priority=90, skus=(bought_at_till,)),
        auto("about-cart", skus=(in_cart,)),
    )
    created = await me.run(CART_CREATE, lines=[{"sku": in_cart}])
    assert created["cartCreate"]["userErrors"] == []

    offered = [o["promotionId"] for o in (await me.run(OFFERS))["offers"]]
    assert offered[0] == "about-cart"  # what is left in their cart comes first
    assert set(offered) == {"about-cart", "general", "vip", "my-tier"}
