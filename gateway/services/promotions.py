"""Whether a promo code applies to a cart now, and what it takes off.

Stacking (for now): every applicable code applies to the subtotal, in the order applied,
and the discounts together never exceed the subtotal. Refusals carry a precise reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from connectors.records import Money
from gateway.store.promo_codes import DiscountKind, PromoCode

CENT = Decimal("0.01")


class PromoRefusal(StrEnum):
    UNKNOWN_CODE = "UNKNOWN_CODE"
    INACTIVE = "INACTIVE"
    NOT_STARTED = "NOT_STARTED"
    EXPIRED = "EXPIRED"
    MINIMUM_NOT_REACHED = "MINIMUM_NOT_REACHED"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"


REFUSAL_MESSAGES = {
    PromoRefusal.UNKNOWN_CODE: "No promotion has this code.",
    PromoRefusal.INACTIVE: "This code has been withdrawn.",
    PromoRefusal.NOT_STARTED: "This code is not valid yet.",
    PromoRefusal.EXPIRED: "This code has expired.",
    PromoRefusal.MINIMUM_NOT_REACHED: "The cart's subtotal is below this code's minimum.",
    PromoRefusal.CURRENCY_MISMATCH: "This code is for another currency.",
}


@dataclass(frozen=True, slots=True)
class PromoOutcome:
    code: str
    refusal: PromoRefusal | None
    discount: Money | None

    @property
    def applicable(self) -> bool:
        return self.refusal is None


def refusal(promo: PromoCode | None, subtotal: Money | None, now: datetime) -> PromoRefusal | None:
    """Why `promo` does not apply to a cart with this subtotal now (None: an empty cart);
    None if it does."""
    if promo is None:
        return PromoRefusal.UNKNOWN_CODE
    if not promo.active:
        return PromoRefusal.INACTIVE
    if promo.starts_at is not None and now < promo.starts_at:
        return PromoRefusal.NOT_STARTED
    if promo.ends_at is not None and now >= promo.ends_at:
        return PromoRefusal.EXPIRED
    if subtotal is not None and promo.currency not in (None, subtotal.currency):
        return PromoRefusal.CURRENCY_MISMATCH
    amount = subtotal.amount if subtotal is not None else Decimal(0)
    if promo.min_subtotal is not None and amount < promo.min_subtotal:
        return PromoRefusal.MINIMUM_NOT_REACHED
    return None


def apply_codes(
    codes: tuple[str, ...], found: dict[str, PromoCode], subtotal: Money, now: datetime
) -> list[PromoOutcome]:
    remaining = subtotal.amount
    outcomes = []
    for code in codes:
        promo = found.get(code)
        reason = refusal(promo, subtotal, now)
        if promo is None or reason is not None:
            outcomes.append(PromoOutcome(code, reason, None))
            continue
        off = _discount(promo, subtotal.amount).quantize(CENT, ROUND_HALF_UP)
        off = min(off, remaining)
        remaining -= off
        outcomes.append(PromoOutcome(code, None, Money(off, subtotal.currency)))
    return outcomes


def _discount(promo: PromoCode, subtotal: Decimal) -> Decimal:
    if promo.kind is DiscountKind.PERCENTAGE:
        return subtotal * min(promo.value, Decimal(100)) / Decimal(100)
    return promo.value
