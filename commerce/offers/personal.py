"""`offers`: the promotions worth showing one customer on one channel, before any cart.

Candidates are the active automatic promotions and the customer's own vouchers (plain
codes are not advertised: a postcard code is for whoever holds the postcard). A candidate
is shown when its conditions that do not depend on a cart hold now, for this customer
(segment, tier, channel, store, dates, limits); minimums and eligible items are for the
cart to decide. A promotion only about SKUs the customer already bought (on any channel)
is not offered. The rest are ranked: personal vouchers, then promotions touching what the
customer wants (wishlist items, items left in their cart), then by priority.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from commerce.offers.conditions import OfferRefusal, PricingContext, refusal
from commerce.offers.engine import OffersEngine
from commerce.offers.rules import Promotion

CART_REASONS = {OfferRefusal.MINIMUM_NOT_REACHED, OfferRefusal.NO_ELIGIBLE_ITEMS}


@dataclass(frozen=True, slots=True)
class CustomerInterests:
    bought: frozenset[str]  # SKUs of past orders, every channel
    wanted: frozenset[str]  # wishlist and cart SKUs


async def offers_for(
    engine: OffersEngine,
    customer_id: str | None,
    channel: str,
    store_id: str | None,
    currency: str,
    interests: CustomerInterests,
) -> list[Promotion]:
    store = engine.promotions
    query: dict[str, object] = {"active": True, "code": {"$exists": False}}
    if customer_id is not None:
        query = {"active": True, "$or": [query, {"customer_id": customer_id}]}
    candidates = await store.find(query)
    context = PricingContext(
        channel=channel,
        store_id=store_id,
        currency=currency,
        lines=(),
        now=datetime.now(UTC),
        shopper=await engine.shopper(customer_id, candidates),
        usage=await store.usage_of(candidates, customer_id),
    )
    shown = [
        p
        for p in candidates
        if refusal(p, context) in (None, *CART_REASONS) and not _only_bought(p, interests.bought)
    ]
    shown.sort(key=lambda p: _rank(p, customer_id, interests.wanted))
    return shown


def _only_bought(promotion: Promotion, bought: Collection[str]) -> bool:
    skus = promotion.conditions.skus
    return bool(skus) and not promotion.conditions.categories and set(skus) <= set(bought)


def _rank(
    promotion: Promotion, customer_id: str | None, wanted: frozenset[str]
) -> tuple[int, int, int]:
    personal = promotion.customer_id is not None and promotion.customer_id == customer_id
    touches = bool(wanted.intersection(promotion.conditions.skus))
    return (0 if personal else 1, 0 if touches else 1, -promotion.priority)
