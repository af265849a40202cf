"""Whether a promotion's conditions hold for one cart, on one channel, for one customer,
and if not the first reason why (in the order a shopper would want to hear them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from commerce.offers.rules import OfferKind, Promotion


class OfferRefusal(StrEnum):
    UNKNOWN_CODE = "UNKNOWN_CODE"
    INACTIVE = "INACTIVE"
    NOT_STARTED = "NOT_STARTED"
    EXPIRED = "EXPIRED"
    CHANNEL_NOT_ELIGIBLE = "CHANNEL_NOT_ELIGIBLE"
    STORE_NOT_ELIGIBLE = "STORE_NOT_ELIGIBLE"
    SIGN_IN_REQUIRED = "SIGN_IN_REQUIRED"
    CUSTOMER_NOT_ELIGIBLE = "CUSTOMER_NOT_ELIGIBLE"
    NOT_FIRST_ORDER = "NOT_FIRST_ORDER"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    NO_ELIGIBLE_ITEMS = "NO_ELIGIBLE_ITEMS"
    MINIMUM_NOT_REACHED = "MINIMUM_NOT_REACHED"
    USAGE_LIMIT_REACHED = "USAGE_LIMIT_REACHED"
    ALREADY_USED = "ALREADY_USED"
    NOT_COMBINABLE = "NOT_COMBINABLE"


REFUSAL_MESSAGES = {
    OfferRefusal.UNKNOWN_CODE: "No promotion has this code.",
    OfferRefusal.INACTIVE: "This code has been withdrawn.",
    OfferRefusal.NOT_STARTED: "This code is not valid yet.",
    OfferRefusal.EXPIRED: "This code has expired.",
    OfferRefusal.CHANNEL_NOT_ELIGIBLE: "This code is not valid on this channel.",
    OfferRefusal.STORE_NOT_ELIGIBLE: "This code is not valid at this store.",
    OfferRefusal.SIGN_IN_REQUIRED: "Sign in to use this code.",
    OfferRefusal.CUSTOMER_NOT_ELIGIBLE: "This code is not available to this customer.",
    OfferRefusal.NOT_FIRST_ORDER: "This referral code is for a first order.",
    OfferRefusal.CURRENCY_MISMATCH: "This code is for another currency.",
    OfferRefusal.NO_ELIGIBLE_ITEMS: "No item in the cart is eligible for this code.",
    OfferRefusal.MINIMUM_NOT_REACHED: "The cart's subtotal is below this code's minimum.",
    OfferRefusal.USAGE_LIMIT_REACHED: "This code has been used up.",
    OfferRefusal.ALREADY_USED: "This code was already used by this customer.",
    OfferRefusal.NOT_COMBINABLE: "This code cannot be combined with another promotion applied.",
}


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: str
    quantity: int
    unit_price: Decimal
    category: str | None


@dataclass(frozen=True, slots=True)
class Shopper:
    """Who the cart is for, as far as conditions ask: their segments and loyalty tier, and
    whether they ordered before (asked only when a referral code is a candidate)."""

    customer_id: str
    tier: str | None = None
    segments: frozenset[str] = frozenset()
    has_ordered: bool = False


@dataclass(frozen=True, slots=True)
class Usage:
    """Redemptions counted so far (reserved or committed)."""

    total: int = 0
    by_customer: int = 0


@dataclass(frozen=True, slots=True)
class PricingContext:
    channel: str
    store_id: str | None
    currency: str
    lines: tuple[PricedLine, ...]
    now: datetime
    shopper: Shopper | None = None
    usage: dict[str, Usage] = field(default_factory=dict)


def eligible_lines(promotion: Promotion, lines: tuple[PricedLine, ...]) -> list[PricedLine]:
    """The lines the promotion is about: every line unless SKUs or categories are named."""
    conditions = promotion.conditions
    if not conditions.skus and not conditions.categories:
        return list(lines)
    return [
        line
        for line in lines
        if line.sku in conditions.skus
        or (line.category is not None and line.category in conditions.categories)
    ]


def refusal(promotion: Promotion | None, context: PricingContext) -> OfferRefusal | None:
    """Why `promotion` does not apply in this context; None if it does (stacking aside)."""
    if promotion is None:
        return OfferRefusal.UNKNOWN_CODE
    conditions = promotion.conditions
    if not promotion.active:
        return OfferRefusal.INACTIVE
    if conditions.starts_at is not None and context.now < conditions.starts_at:
        return OfferRefusal.NOT_STARTED
    if conditions.ends_at is not None and context.now >= conditions.ends_at:
        return OfferRefusal.EXPIRED
    if conditions.channels and context.channel not in conditions.channels:
        return OfferRefusal.CHANNEL_NOT_ELIGIBLE
    if conditions.store_ids and context.store_id not in conditions.store_ids:
        return OfferRefusal.STORE_NOT_ELIGIBLE
    if (refused := _customer_refusal(promotion, context)) is not None:
        return refused
    if promotion.kind is OfferKind.FIXED_AMOUNT and promotion.currency not in (
        None,
        context.currency,
    ):
        return OfferRefusal.CURRENCY_MISMATCH
    eligible = eligible_lines(promotion, context.lines)
    if context.lines and not eligible:
        return OfferRefusal.NO_ELIGIBLE_ITEMS
    amount = sum((line.unit_price * line.quantity for line in eligible), Decimal(0))
    if conditions.min_subtotal is not None and amount < conditions.min_subtotal:
        return OfferRefusal.MINIMUM_NOT_REACHED
    return _limit_refusal(promotion, context)


def _customer_refusal(promotion: Promotion, context: PricingContext) -> OfferRefusal | None:
    conditions = promotion.conditions
    personal = (
        promotion.customer_id is not None
        or promotion.referrer_id is not None
        or promotion.limits.per_customer is not None
    )
    if (conditions.needs_customer or personal) and context.shopper is None:
        return OfferRefusal.SIGN_IN_REQUIRED
    shopper = context.shopper
    if shopper is None:
        return None
    if promotion.customer_id is not None and promotion.customer_id != shopper.customer_id:
        return OfferRefusal.CUSTOMER_NOT_ELIGIBLE
    if promotion.referrer_id == shopper.customer_id:
        return OfferRefusal.CUSTOMER_NOT_ELIGIBLE  # one's own referral code
    if promotion.referrer_id is not None and shopper.has_ordered:
        return OfferRefusal.NOT_FIRST_ORDER
    if conditions.tiers and shopper.tier not in conditions.tiers:
        return OfferRefusal.CUSTOMER_NOT_ELIGIBLE
    if conditions.segments and not shopper.segments.intersection(conditions.segments):
        return OfferRefusal.CUSTOMER_NOT_ELIGIBLE
    return None


def _limit_refusal(promotion: Promotion, context: PricingContext) -> OfferRefusal | None:
    usage = context.usage.get(promotion.id, Usage())
    limits = promotion.limits
    if limits.per_customer is not None and usage.by_customer >= limits.per_customer:
        return OfferRefusal.ALREADY_USED
    if limits.total is not None and usage.total >= limits.total:
        return OfferRefusal.USAGE_LIMIT_REACHED
    return None
