"""A cart priced now: current prices from the e-commerce system, offers applied by the one
offers engine for the channel the cart is priced for.

Lines keep the price they were added at; the read side compares it with today's price so
a client can flag the lines whose price changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from commerce.cart.store import StoredCart
from commerce.offers import OfferOutcome, OffersEngine, PricedLine
from commerce.ports import CatalogReads
from connectors.records import Money, ProductRecord


class MixedCurrencies(ValueError):
    """The cart's products are priced in more than one currency: no honest total exists."""


@dataclass(frozen=True, slots=True)
class CartPrice:
    subtotal: Money
    offers: list[OfferOutcome]
    discount: Money
    total: Money
    lines: tuple[PricedLine, ...] = ()
    # the cart's loyalty points and what they take off (included in `discount`)
    loyalty_points: int = 0
    loyalty_discount: Decimal = Decimal(0)

    @property
    def free_shipping(self) -> bool:
        return any(o.free_shipping for o in self.offers)

    @property
    def promotion_ids(self) -> list[str]:
        """The promotions that take something off (or ship free): what checkout redeems."""
        return [o.promotion.id for o in self.offers if o.applicable and o.promotion is not None]


async def price_cart(
    cart: StoredCart,
    reads: CatalogReads,
    engine: OffersEngine,
    default_currency: str,
    *,
    channel: str,
    store_id: str | None,
    extra_codes: Sequence[str] = (),
) -> CartPrice:
    """Lines whose product is gone from the catalog count for nothing (checkout refuses
    them); an empty cart is priced at zero in `default_currency`. `extra_codes` are priced
    as if on the cart (a code being applied)."""
    products = await reads.products([line.sku for line in cart.lines])
    subtotal = line_subtotal(cart, products, default_currency)
    lines = tuple(
        PricedLine(line.sku, line.quantity, p.price.amount, p.category)
        for line, p in zip(cart.lines, products, strict=True)
        if p is not None
    )
    codes = list(dict.fromkeys([*cart.promo_codes, *extra_codes]))
    outcomes = await engine.evaluate(
        lines=lines,
        codes=codes,
        channel=channel,
        store_id=store_id,
        customer_id=cart.customer_id,
        currency=subtotal.currency,
    )
    discount = sum((o.discount for o in outcomes if o.applicable), Decimal(0))
    # points come off after the promotions, never past what is left to pay, and only on
    # the channel they were applied on (docs/offers.md "Loyalty")
    points = cart.points_for(channel)
    loyalty = min(engine.points_value(points), subtotal.amount - discount)
    discount += loyalty
    return CartPrice(
        subtotal=subtotal,
        offers=outcomes,
        discount=Money(discount, subtotal.currency),
        total=Money(subtotal.amount - discount, subtotal.currency),
        lines=lines,
        loyalty_points=points,
        loyalty_discount=loyalty,
    )


def line_subtotal(
    cart: StoredCart, products: list[ProductRecord | None], default_currency: str
) -> Money:
    currencies = {p.price.currency for p in products if p is not None}
    if len(currencies) > 1:
        raise MixedCurrencies(sorted(currencies))
    currency = currencies.pop() if currencies else default_currency
    amount = sum(
        (p.price.amount * line.quantity for line, p in zip(cart.lines, products, strict=True) if p),
        Decimal(0),
    )
    return Money(amount, currency)
