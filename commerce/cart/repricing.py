"""Checkout's re-pricing of the lines added while the price source could not be read.

Such a line (`needs_repricing`) was added at the price the recent catalog held, which the
shopper saw; checkout prices every line from the source, and refuses a flagged line whose
price today rose more than the tolerance above that one, naming both prices, rather than
charge what the shopper was never shown. A price that fell, or rose within the tolerance,
is charged as the source says. `cartLinesReprice` accepts today's prices (docs/cart.md
"When prices cannot be read").
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from commerce.cart.errors import CartErrorCode, CartUserError
from commerce.cart.model import StoredCart
from connectors.records import Money, ProductRecord


def price_rises(
    cart: StoredCart, products: Sequence[ProductRecord | None], tolerance_percent: Decimal
) -> list[CartUserError]:
    """One PRICE_CHANGED per flagged line past the tolerance, its `field` the line (whose
    `addedUnitPrice` and `unitPrice` are the two prices); `products` are the cart's lines'
    products from the source, in line order (None: no longer sold, refused apart)."""
    errors = []
    for i, (line, product) in enumerate(zip(cart.lines, products, strict=True)):
        if not line.needs_repricing or product is None:
            continue
        was, now = line.added_unit_price, product.price
        if _within(was, now, tolerance_percent):
            continue
        errors.append(
            CartUserError(
                CartErrorCode.PRICE_CHANGED,
                f"{line.sku} was added at {_shown(was)} while prices could not be read and "
                f"costs {_shown(now)} now, more than {tolerance_percent}% above: review the "
                "cart (cartLinesReprice accepts today's prices) and check out again.",
                ("lines", str(i)),
            )
        )
    return errors


def _within(was: Money, now: Money, tolerance_percent: Decimal) -> bool:
    if was.currency != now.currency:
        return False  # no comparing them: the shopper reviews the line
    return now.amount <= was.amount * (1 + tolerance_percent / 100)


def _shown(money: Money) -> str:
    return f"{money.amount} {money.currency}"
