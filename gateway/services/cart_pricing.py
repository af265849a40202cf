"""A cart priced now: current prices from the e-commerce system, promo codes applied.

Lines keep the price they were added at; the read side compares it with today's price so
a client can flag the lines whose price changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from connectors.records import Money, ProductRecord
from gateway.loaders import Loaders
from gateway.services.promotions import PromoOutcome, apply_codes
from gateway.store.carts import StoredCart
from gateway.store.promo_codes import PromoCodes


class MixedCurrencies(ValueError):
    """The cart's products are priced in more than one currency: no honest total exists."""


@dataclass(frozen=True, slots=True)
class CartPrice:
    subtotal: Money
    promotions: list[PromoOutcome]
    discount: Money
    total: Money


async def price_cart(
    cart: StoredCart, loaders: Loaders, promo_codes: PromoCodes, default_currency: str
) -> CartPrice:
    """Lines whose product is gone from the catalog count for nothing (checkout refuses
    them); an empty cart is priced at zero in `default_currency`."""
    products = await loaders.product_by_sku.load_many([line.sku for line in cart.lines])
    subtotal = line_subtotal(cart, products, default_currency)
    found = await promo_codes.get_many(list(cart.promo_codes))
    outcomes = apply_codes(cart.promo_codes, found, subtotal, datetime.now(UTC))
    discount = sum((o.discount.amount for o in outcomes if o.discount), Decimal(0))
    return CartPrice(
        subtotal=subtotal,
        promotions=outcomes,
        discount=Money(discount, subtotal.currency),
        total=Money(subtotal.amount - discount, subtotal.currency),
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
