"""How the promotions on one cart combine: the stacking policy (docs/offers.md).

1. Candidates are the automatic promotions whose conditions hold and the codes on the
   cart (a code that does not apply stays listed with its reason and takes nothing off).
2. The applicable ones are taken by `priority`, highest first; ties keep automatic
   promotions before codes, and codes in the order they were applied.
3. An EXCLUSIVE promotion applies only if nothing was applied before it, and then nothing
   after it does; STACKABLE ones apply together. Whatever is left out is NOT_COMBINABLE.
4. Each discount is computed on the eligible lines at today's prices and capped at what
   is still left of the subtotal, so the total never goes below zero.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from commerce.offers.conditions import OfferRefusal, PricingContext, refusal
from commerce.offers.evaluation import discount_for
from commerce.offers.rules import OfferKind, Promotion, Stacking


@dataclass(frozen=True, slots=True)
class OfferOutcome:
    """One promotion on the cart: what it takes off, or why it takes nothing off."""

    code: str | None  # None: an automatic promotion
    promotion: Promotion | None  # None: an unknown code
    refusal: OfferRefusal | None
    discount: Decimal = Decimal(0)

    @property
    def applicable(self) -> bool:
        return self.refusal is None

    @property
    def free_shipping(self) -> bool:
        return (
            self.applicable
            and self.promotion is not None
            and self.promotion.kind is OfferKind.FREE_SHIPPING
        )


def combine(
    automatic: list[Promotion],
    codes: tuple[str, ...],
    by_code: dict[str, Promotion],
    context: PricingContext,
) -> list[OfferOutcome]:
    """The outcome of every code on the cart (in the order applied), then of every automatic
    promotion that applies."""
    code_outcomes = [
        OfferOutcome(code, by_code.get(code), refusal(by_code.get(code), context)) for code in codes
    ]
    auto_outcomes = [OfferOutcome(None, p, None) for p in automatic if refusal(p, context) is None]
    ranked = sorted(
        (o for o in [*auto_outcomes, *code_outcomes] if o.applicable),
        key=lambda o: -(o.promotion.priority if o.promotion else 0),
    )
    remaining = sum((line.unit_price * line.quantity for line in context.lines), Decimal(0))
    settled: dict[int, OfferOutcome] = {}
    exclusive_taken = False
    for outcome in ranked:
        promotion = outcome.promotion
        assert promotion is not None
        exclusive = promotion.stacking is Stacking.EXCLUSIVE
        if exclusive_taken or (exclusive and settled):
            settled[id(outcome)] = replace(outcome, refusal=OfferRefusal.NOT_COMBINABLE)
            continue
        off = min(discount_for(promotion, context.lines), remaining)
        remaining -= off
        settled[id(outcome)] = replace(outcome, discount=off)
        exclusive_taken = exclusive
    finals = [settled.get(id(o), o) for o in [*code_outcomes, *auto_outcomes]]
    return [o for o in finals if o.code is not None or o.applicable]
