"""The one offers engine every channel asks: which promotions apply to a cart, and why
the others do not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from commerce.customers.profile import Loyalty
from commerce.customers.profiles import CustomerProfiles
from commerce.offers.conditions import PricedLine, PricingContext, Shopper
from commerce.offers.evaluation import CENT
from commerce.offers.history import PurchaseHistory
from commerce.offers.promotions import PromotionStore
from commerce.offers.rules import Promotion
from commerce.offers.stacking import OfferOutcome, combine


class OffersEngine:
    def __init__(
        self,
        promotions: PromotionStore,
        customers: CustomerProfiles,
        history: PurchaseHistory,
        point_value: Decimal = Decimal("0.01"),
    ) -> None:
        self.promotions = promotions
        self.history = history
        self._customers = customers
        self._point_value = point_value

    def points_value(self, points: int) -> Decimal:
        """What `points` loyalty points take off, in the cart's currency."""
        return (Decimal(points) * self._point_value).quantize(CENT)

    async def loyalty_of(self, customer_id: str) -> Loyalty | None:
        """The customer's loyalty account now (balance, tier), from their profile."""
        read = await self._customers.one(customer_id)
        return read.profile.loyalty if read is not None else None

    async def evaluate(
        self,
        *,
        lines: tuple[PricedLine, ...],
        codes: Sequence[str],
        channel: str,
        store_id: str | None,
        customer_id: str | None,
        currency: str,
        now: datetime | None = None,
    ) -> list[OfferOutcome]:
        automatic = await self.promotions.automatic()
        by_code = await self.promotions.by_codes(codes)
        candidates = [*automatic, *by_code.values()]
        context = PricingContext(
            channel=channel,
            store_id=store_id,
            currency=currency,
            lines=lines,
            now=now or datetime.now(UTC),
            shopper=await self.shopper(customer_id, candidates),
            usage=await self.promotions.usage_of(candidates, customer_id),
        )
        return combine(automatic, tuple(codes), by_code, context)

    async def discount_kept(
        self,
        *,
        promotion_ids: Sequence[str],
        lines: tuple[PricedLine, ...],
        channel: str,
        store_id: str | None,
        customer_id: str | None,
        currency: str,
        at: datetime,
    ) -> Decimal:
        """What the promotions an order got take off the lines it keeps after a return.

        Only those promotions (no other one joins), as at the order's time (the window it
        was bought in), their usage limits not counted again (the order is their use), code
        promotions as if applied: the kept lines' new price is what the same order of only
        them would have cost (docs/returns.md "Promotions")."""
        found = [await self.promotions.get(promotion_id) for promotion_id in promotion_ids]
        # active as they were when the order was placed, whatever became of them since
        promotions = [replace(p, active=True) for p in found if p is not None]
        if not promotions or not lines:
            return Decimal(0)
        context = PricingContext(
            channel=channel,
            store_id=store_id,
            currency=currency,
            lines=lines,
            now=at,
            shopper=await self.shopper(customer_id, promotions),
        )
        outcomes = combine(promotions, (), {}, context)
        return sum((o.discount for o in outcomes if o.applicable), Decimal(0))

    async def shopper(
        self, customer_id: str | None, candidates: Sequence[Promotion]
    ) -> Shopper | None:
        """The customer's segments, their tier and whether they ordered before, each only if
        a candidate asks (the tier costs a profile read, from the cache when fresh; the
        order history an upstream read, only for a referral code)."""
        if customer_id is None:
            return None
        tier = None
        if any(p.conditions.tiers for p in candidates):
            read = await self._customers.one(customer_id)
            loyalty = read.profile.loyalty if read is not None else None
            tier = loyalty.tier if loyalty is not None else None
        segments: frozenset[str] = frozenset()
        if any(p.conditions.segments for p in candidates):
            segments = await self.promotions.segments_of(customer_id)
        has_ordered = False
        if any(p.referrer_id is not None and p.referrer_id != customer_id for p in candidates):
            has_ordered = await self.history.has_ordered(customer_id)
        return Shopper(customer_id, tier, segments, has_ordered)
