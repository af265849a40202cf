"""Domain refusals of cart, wishlist and checkout mutations: `userErrors`, not GraphQL errors.

A refusal is an answer the client acts on (show the current cart, pick another store), so
it comes back in the payload with a stable code; GraphQL errors are kept for failures
(an upstream down, a bad token).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from commerce.cart.store import StoredCart


class CartErrorCode(StrEnum):
    CONFLICT = "CONFLICT"  # expectedVersion is not the cart's version
    NOT_FOUND = "NOT_FOUND"  # no such cart, or not one this principal may reach
    CART_NOT_OPEN = "CART_NOT_OPEN"  # checked out or merged
    CHECKOUT_IN_PROGRESS = "CHECKOUT_IN_PROGRESS"
    UNAUTHENTICATED = "UNAUTHENTICATED"  # needs a signed-in customer
    FORBIDDEN = "FORBIDDEN"  # this kind of principal may not do this
    LINE_NOT_FOUND = "LINE_NOT_FOUND"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    PRODUCT_NOT_FOUND = "PRODUCT_NOT_FOUND"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    STORE_NOT_FOUND = "STORE_NOT_FOUND"
    STORE_REQUIRED = "STORE_REQUIRED"
    PROMO_NOT_APPLICABLE = "PROMO_NOT_APPLICABLE"
    PROMO_CODE_NOT_IN_CART = "PROMO_CODE_NOT_IN_CART"
    EMPTY_CART = "EMPTY_CART"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
    ORDER_REJECTED = "ORDER_REJECTED"  # the upstream system refused the order
    # a line added at a recent price costs more now, past the tolerance (cart/repricing.py)
    PRICE_CHANGED = "PRICE_CHANGED"
    NOT_IN_WISHLIST = "NOT_IN_WISHLIST"
    NO_LOYALTY_ACCOUNT = "NO_LOYALTY_ACCOUNT"  # a guest cart, or a customer without one
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"  # more points than the balance holds
    QUOTE_INVALID = "QUOTE_INVALID"  # not signed by omnigate, or tampered with
    QUOTE_EXPIRED = "QUOTE_EXPIRED"
    QUOTE_STALE = "QUOTE_STALE"  # the cart changed since the quote
    # a `channel` this principal may not act on (commerce/offers/channel.py allowed_channels)
    CHANNEL_NOT_ALLOWED = "CHANNEL_NOT_ALLOWED"
    # payments (docs/payments.md): an online checkout needs a card token, an in-store one
    # is paid at the terminal, and a refused card names Square's reason in `reason`
    PAYMENT_REQUIRED = "PAYMENT_REQUIRED"
    PAYMENT_NOT_ACCEPTED = "PAYMENT_NOT_ACCEPTED"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"


@dataclass(frozen=True, slots=True)
class CartUserError:
    code: CartErrorCode
    message: str
    field: tuple[str, ...] | None = None
    # a machine-readable detail, e.g. the promo refusal reason
    reason: str | None = None


@dataclass(slots=True)
class CartOutcome:
    """A mutation's result: the cart as it now is (also when refused, so a client facing a
    CONFLICT sees the current version) and the refusals."""

    cart: StoredCart | None
    errors: list[CartUserError] = field(default_factory=list)
    cart_token: str | None = None

    @classmethod
    def refused(
        cls, cart: StoredCart | None, code: CartErrorCode, message: str, *path: str
    ) -> CartOutcome:
        return cls(cart, [CartUserError(code, message, path or None)])
