"""What one applicable promotion takes off the eligible lines (before stacking caps it)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from commerce.offers.conditions import PricedLine, eligible_lines
from commerce.offers.rules import OfferKind, Promotion

CENT = Decimal("0.01")


def discount_for(promotion: Promotion, lines: tuple[PricedLine, ...]) -> Decimal:
    eligible = eligible_lines(promotion, lines)
    amount = sum((line.unit_price * line.quantity for line in eligible), Decimal(0))
    if promotion.kind is OfferKind.PERCENTAGE:
        off = amount * min(promotion.value, Decimal(100)) / Decimal(100)
    elif promotion.kind is OfferKind.FIXED_AMOUNT:
        off = min(promotion.value, amount)
    elif promotion.kind is OfferKind.BUY_X_GET_Y:
        off = _free_units_value(promotion, eligible)
    else:  # FREE_SHIPPING takes nothing off the goods
        off = Decimal(0)
    return off.quantize(CENT, ROUND_HALF_UP)


def _free_units_value(promotion: Promotion, eligible: list[PricedLine]) -> Decimal:
    """For every `buy + get` eligible units, the `get` cheapest of them are free: the units
    are sorted cheapest first and the free ones are taken from the bottom."""
    group = promotion.buy_quantity + promotion.get_quantity
    if promotion.get_quantity <= 0 or group <= 0:
        return Decimal(0)
    units = sorted(price for line in eligible for price in [line.unit_price] * line.quantity)
    free = (len(units) // group) * promotion.get_quantity
    return sum(units[:free], Decimal(0))
