"""Checkout: the cart placed as one order upstream, exactly once per idempotency key."""

from __future__ import annotations

from typing import Annotated

import strawberry

from commerce.checkout import service as checkout
from engine.context import Info
from resolvers.cart_types import Cart, CartUserError, SalesChannel, cart_or_none
from resolvers.customers import Order


@strawberry.type
class CheckoutPayload:
    order: Order | None
    cart: Cart | None
    replayed: bool = strawberry.field(
        description="True when this answer is the stored result of an earlier call with the "
        "same idempotency key."
    )
    user_errors: list[CartUserError]


@strawberry.type
class CheckoutMutations:
    @strawberry.mutation(
        description="Places the cart's order in the e-commerce system (WEB, MOBILE) or the "
        "POS (STORE, KIOSK). `channel` is one the caller acts on (WEB or MOBILE online, KIOSK "
        "for a kiosk, STORE for staff), else CHANNEL_NOT_ALLOWED. Online the card is charged "
        "(`paymentToken`, PAYMENT_DECLINED with the card's reason); in store the terminal "
        "takes the payment. The same idempotencyKey replays the same result and is never "
        "charged twice; retry with it after any failure or timeout."
    )
    async def checkout(
        self,
        info: Info,
        cart_id: strawberry.ID,
        channel: SalesChannel,
        idempotency_key: str,
        quote: Annotated[
            str | None,
            strawberry.argument(
                description="A Cart.quote token: charge what it says (QUOTE_EXPIRED, "
                "QUOTE_STALE if the cart changed, QUOTE_INVALID if tampered with)."
            ),
        ] = None,
        payment_token: Annotated[
            str | None,
            strawberry.argument(
                description="WEB and MOBILE: the card token Square's Web Payments SDK gave "
                "the payment form (`tokenize()`), required (PAYMENT_REQUIRED) unless "
                "loyalty points pay the whole total. STORE and "
                "KIOSK: none, the terminal takes the payment (PAYMENT_NOT_ACCEPTED). A retry "
                "with the same idempotencyKey pays with the first call's card."
            ),
        ] = None,
    ) -> CheckoutPayload:
        outcome = await info.context.services.checkout.checkout(
            info.context.principal,
            cart_id,
            checkout.SalesChannel(channel.value),
            idempotency_key,
            info.context.loaders,
            quote,
            payment_token,
        )
        return CheckoutPayload(
            order=Order.from_record(outcome.order) if outcome.order else None,
            cart=cart_or_none(outcome.cart),
            replayed=outcome.replayed,
            user_errors=[CartUserError.from_error(e) for e in outcome.errors],
        )
