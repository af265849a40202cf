"""Offers for the signed-in customer and their referral code."""

from __future__ import annotations

from datetime import datetime

import strawberry

from commerce.offers import channel as offer_channel
from commerce.offers.interests import interests_of
from commerce.offers.personal import CustomerInterests, offers_for
from commerce.offers.rules import Promotion
from engine.context import Info
from resolvers.cart_types import PricingChannel


@strawberry.type(description="A promotion offered to the caller.")
class Offer:
    promotion_id: strawberry.ID
    title: str
    code: str | None = strawberry.field(description="Null: applied automatically to the cart.")
    kind: str = strawberry.field(
        description="PERCENTAGE, FIXED_AMOUNT, BUY_X_GET_Y or FREE_SHIPPING."
    )
    value: str = strawberry.field(description="Percent or amount, as a decimal string.")
    currency: str | None
    ends_at: datetime | None
    personal: bool = strawberry.field(description="Issued to this customer only.")
    skus: list[str] = strawberry.field(description="The SKUs it is about; empty: any.")
    categories: list[str]

    @classmethod
    def from_promotion(cls, promotion: Promotion) -> Offer:
        return cls(
            promotion_id=strawberry.ID(promotion.id),
            title=promotion.title,
            code=promotion.code,
            kind=promotion.kind.value,
            value=format(promotion.value, "f"),
            currency=promotion.currency,
            ends_at=promotion.conditions.ends_at,
            personal=promotion.customer_id is not None,
            skus=list(promotion.conditions.skus),
            categories=list(promotion.conditions.categories),
        )


@strawberry.type
class OfferQueries:
    @strawberry.field(
        description="Promotions for the caller on `channel` (default as for Cart.cost), "
        "personalised for a signed-in customer: segment, tier, their vouchers, what they "
        "want (wishlist, cart), never what they already bought."
    )
    async def offers(self, info: Info, channel: PricingChannel = None) -> list[Offer]:
        principal = info.context.principal
        services = info.context.services
        sales_channel = offer_channel.permitted_channel(
            principal, offer_channel.SalesChannel(channel.value) if channel is not None else None
        )
        customer_id = principal.customer_id
        interests = CustomerInterests(frozenset(), frozenset())
        if customer_id is not None:
            interests = await interests_of(
                principal,
                customer_id,
                wishlists=services.wishlists,
                carts=services.carts,
                customers=services.customers,
                orders=services.orders,
            )
        found = await offers_for(
            services.offers,
            customer_id,
            sales_channel.value,
            offer_channel.pricing_store(principal, sales_channel, None),
            services.carts.default_currency,
            interests,
        )
        return [Offer.from_promotion(p) for p in found]

    @strawberry.field(
        description="The signed-in customer's referral code: a friend's first order with it "
        "gives both a voucher. Null for anyone else."
    )
    async def referral_code(self, info: Info) -> str | None:
        customer_id = info.context.principal.customer_id
        if customer_id is None:
            return None
        return await info.context.services.referrals.code_for(customer_id)
