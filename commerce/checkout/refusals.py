"""The refusals a checkout answers with, as the userErrors its client reads: the
outcome type, the payment refusals (docs/payments.md) and the promotion ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from commerce.cart.errors import CartErrorCode, CartUserError
from commerce.cart.store import StoredCart
from commerce.checkout.store import CheckoutRecord
from commerce.offers import REFUSAL_MESSAGES, OfferOutcome, OfferRefusal, Promotion, SalesChannel
from connectors.records import OrderRecord

# Square's card tokens are well under this; a longer one is no token
MAX_TOKEN_LENGTH = 512


@dataclass(slots=True)
class CheckoutOutcome:
    order: OrderRecord | None
    cart: StoredCart | None
    errors: list[CartUserError] = field(default_factory=list)
    replayed: bool = False

    @classmethod
    def refused(
        cls, cart: StoredCart | None, code: CartErrorCode, message: str, *path: str
    ) -> CheckoutOutcome:
        return cls(None, cart, [CartUserError(code, message, path or None)])


# The refusals a redemption gives at checkout (Redemptions.reserve)
USED_UP = frozenset({OfferRefusal.USAGE_LIMIT_REACHED, OfferRefusal.ALREADY_USED})


def used_up_code(offers: Sequence[OfferOutcome]) -> tuple[Promotion, OfferRefusal] | None:
    """A code on the cart that has been used up since the shopper saw it take its discount
    off. The checkout is refused for it, as the redemption would refuse it had the last use
    come a moment later, not placed at a price the shopper was never shown."""
    for outcome in offers:
        if outcome.code is None or outcome.promotion is None or outcome.refusal is None:
            continue
        if outcome.refusal in USED_UP:
            return outcome.promotion, outcome.refusal
    return None


def promotion_refused(
    cart: StoredCart | None, promotion: Promotion, reason: OfferRefusal
) -> CheckoutOutcome:
    message = f"{promotion.code or promotion.title}: {REFUSAL_MESSAGES[reason]}"
    error = CartUserError(
        CartErrorCode.PROMO_NOT_APPLICABLE, message, ("cartId",), reason=reason.value
    )
    return CheckoutOutcome(None, cart, [error])


def payment_refusal(channel: SalesChannel, token: str | None) -> CartUserError | None:
    if channel.in_store:
        if token is None:
            return None
        return CartUserError(
            CartErrorCode.PAYMENT_NOT_ACCEPTED,
            "In store the terminal takes the payment: send no paymentToken.",
            ("paymentToken",),
        )
    if token is None:
        return None  # asked for once the total is known (payment_missing): zero needs none
    if not token.strip():
        return payment_missing()
    if len(token) > MAX_TOKEN_LENGTH or not token.isprintable():
        return CartUserError(
            CartErrorCode.PAYMENT_REQUIRED,
            f"paymentToken must be 1 to {MAX_TOKEN_LENGTH} printable characters.",
            ("paymentToken",),
        )
    return None


def declined(message: str, decline_code: str | None) -> CartUserError:
    return CartUserError(
        CartErrorCode.PAYMENT_DECLINED, message, ("paymentToken",), reason=decline_code
    )


def failure(record: CheckoutRecord) -> CartUserError:
    if record.failure_code == CartErrorCode.PAYMENT_DECLINED.value:
        return declined(record.failure_message or "The card was declined.", record.failure_reason)
    return rejected(record.failure_message)


def rejected(message: str | None) -> CartUserError:
    return CartUserError(
        CartErrorCode.ORDER_REJECTED,
        message or "The order was refused by the system of record.",
        ("cartId",),
    )


def payment_missing() -> CartUserError:
    """An online checkout with something to pay and no card token."""
    return CartUserError(
        CartErrorCode.PAYMENT_REQUIRED,
        "An online checkout needs a paymentToken (the card token from the payment form).",
        ("paymentToken",),
    )
