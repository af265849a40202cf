"""Cart queries and mutations: thin, they hand the principal and arguments to CartService.

Every mutation returns the cart as it now is with `userErrors`; a refused change (a stale
`expectedVersion`, no stock) is a user error with a code, not a GraphQL error.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from commerce.cart import model as stored
from commerce.cart.errors import CartOutcome
from commerce.cart.policy import CartMergePolicy as MergePolicySetting
from commerce.cart.service import LineRequest
from commerce.offers import channel as offer_channel
from engine.context import Info
from resolvers.cart_selection import answers_lines
from resolvers.cart_types import (
    Cart,
    CartUserError,
    FulfillmentType,
    PricingChannel,
    SalesChannel,
    cart_or_none,
)

ExpectedVersion = Annotated[
    int | None,
    strawberry.argument(
        description="Refuse the change with CONFLICT unless the cart is at this version."
    ),
]


@strawberry.input
class CartLineInput:
    sku: strawberry.ID
    quantity: int = 1


@strawberry.input
class CartLineUpdateInput:
    id: strawberry.ID
    quantity: int = strawberry.field(description="0 removes the line.")


@strawberry.enum(description="What a guest cart becomes at sign-in.")
class CartMergePolicy(Enum):
    MERGE_QUANTITIES = "MERGE_QUANTITIES"
    KEEP_NEWEST = "KEEP_NEWEST"
    KEEP_CUSTOMER = "KEEP_CUSTOMER"


@strawberry.type
class CartPayload:
    cart: Cart | None
    user_errors: list[CartUserError]

    @classmethod
    def from_outcome(cls, outcome: CartOutcome) -> CartPayload:
        return cls(
            cart=cart_or_none(outcome.cart),
            user_errors=[CartUserError.from_error(e) for e in outcome.errors],
        )


@strawberry.type
class CartCreatePayload:
    cart: Cart | None
    cart_token: str | None = strawberry.field(
        description="A new guest cart's token, shown only here: send it as the X-Cart-Token "
        "header to reach the cart again."
    )
    user_errors: list[CartUserError]


@strawberry.type
class CartQueries:
    @strawberry.field(
        description="A cart by id, or without id the caller's own (the signed-in customer's "
        "open cart, else the X-Cart-Token guest cart). Null when there is none this caller "
        "may see."
    )
    async def cart(self, info: Info, id: strawberry.ID | None = None) -> Cart | None:
        carts = info.context.services.carts
        principal = info.context.principal
        found = await (carts.current(principal) if id is None else carts.find(principal, id))
        return cart_or_none(found)


@strawberry.type
class CartMutations:
    @strawberry.mutation(
        description="The caller's open cart (a customer has one; a guest gets a new one and "
        "its token), with `lines` added."
    )
    async def cart_create(
        self,
        info: Info,
        lines: list[CartLineInput] | None = None,
        customer_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Staff only: the customer whose cart to build (audited)."
            ),
        ] = None,
    ) -> CartCreatePayload:
        outcome = await info.context.services.carts.create(
            info.context.principal,
            _requests(lines or []),
            info.context.loaders,
            for_customer=customer_id,
        )
        return CartCreatePayload(
            cart=cart_or_none(outcome.cart),
            cart_token=outcome.cart_token,
            user_errors=[CartUserError.from_error(e) for e in outcome.errors],
        )

    @strawberry.mutation(description="Adds quantities; a SKU already in the cart adds up.")
    async def cart_lines_add(
        self,
        info: Info,
        cart_id: strawberry.ID,
        lines: list[CartLineInput],
        expected_version: ExpectedVersion = None,
    ) -> CartPayload:
        outcome = await info.context.services.carts.add_lines(
            info.context.principal,
            cart_id,
            _requests(lines),
            expected_version,
            info.context.loaders,
            answer_lines=answers_lines(info),
        )
        return CartPayload.from_outcome(outcome)

    @strawberry.mutation
    async def cart_lines_update(
        self,
        info: Info,
        cart_id: strawberry.ID,
        lines: list[CartLineUpdateInput],
        expected_version: ExpectedVersion = None,
    ) -> CartPayload:
        outcome = await info.context.services.carts.update_lines(
            info.context.principal,
            cart_id,
            {line.id: line.quantity for line in lines},
            expected_version,
            info.context.loaders,
        )
        return CartPayload.from_outcome(outcome)

    @strawberry.mutation
    async def cart_lines_remove(
        self,
        info: Info,
        cart_id: strawberry.ID,
        line_ids: list[strawberry.ID],
        expected_version: ExpectedVersion = None,
    ) -> CartPayload:
        outcome = await info.context.services.carts.remove_lines(
            info.context.principal, cart_id, list(line_ids), expected_version
        )
        return CartPayload.from_outcome(outcome)

    @strawberry.mutation(description="Delivery, or pickup at a store holding every line now.")
    async def cart_set_fulfillment(
        self,
        info: Info,
        cart_id: strawberry.ID,
        type: FulfillmentType,
        store_id: strawberry.ID | None = None,
        expected_version: ExpectedVersion = None,
    ) -> CartPayload:
        outcome = await info.context.services.carts.set_fulfillment(
            info.context.principal,
            cart_id,
            stored.FulfillmentType(type.value),
            store_id,
            expected_version,
            info.context.loaders,
        )
        return CartPayload.from_outcome(outcome)

    @strawberry.mutation(
        description="Refused with PROMO_NOT_APPLICABLE and the reason (expired, not valid on "
        "this channel, minimum not reached, already used...)."
    )
    async def cart_apply_promo_code(
        self,
        info: Info,
        cart_id: strawberry.ID,
        code: str,
        expected_version: ExpectedVersion = None,
        channel: PricingChannel = None,
    ) -> CartPayload:
        outcome = await info.context.services.carts.apply_promo_code(
            info.context.principal,
            cart_id,
            code,
            expected_version,
            info.context.loaders,
            offer_channel.SalesChannel(channel.value) if channel is not None else None,
        )
        return CartPayload.from_outcome(outcome)

    @strawberry.mutation(
        description="Spends loyalty points on the cart (0 spends none): each takes the "
        "configured point value off the total, after promotions; taken from the loyalty "
        "account once, at checkout, by a checkout on `channel` only. INSUFFICIENT_POINTS "
        "past the balance."
    )
    async def cart_apply_loyalty_points(
        self,
        info: Info,
        cart_id: strawberry.ID,
        points: int,
        expected_version: ExpectedVersion = None,
        channel: Annotated[
            SalesChannel | None,
            strawberry.argument(
                description="The channel whose checkout spends them, one the caller acts on "
                "(CHANNEL_NOT_ALLOWED otherwise); default: KIOSK for a kiosk, STORE for "
                "staff, else WEB. A checkout on any other channel does not spend them."
            ),
        ] = None,
    ) -> CartPayload:
        outcome = await info.context.services.carts.apply_loyalty_points(
            info.context.principal,
            cart_id,
            points,
            expected_version,
            offer_channel.SalesChannel(channel.value) if channel is not None else None,
        )
        return CartPayload.from_outcome(outcome)

    @strawberry.mutation(
        description="Accepts today's price for the lines added while the price source could "
        "not be read (`needsRepricing`): each takes today's price as `addedUnitPrice` and "
        "loses the flag, so checkout no longer refuses it with PRICE_CHANGED. Prices come "
        "from the source only: while it fails, the field fails with UPSTREAM_*."
    )
    async def cart_lines_reprice(
        self,
        info: Info,
        cart_id: strawberry.ID,
        expected_version: ExpectedVersion = None,
    ) -> CartPayload:
        outcome = await info.context.services.carts.reprice_lines(
            info.context.principal, cart_id, expected_version, info.context.loaders
        )
        return CartPayload.from_outcome(outcome)

    @strawberry.mutation
    async def cart_remove_promo_code(
        self,
        info: Info,
        cart_id: strawberry.ID,
        code: str,
        expected_version: ExpectedVersion = None,
    ) -> CartPayload:
        outcome = await info.context.services.carts.remove_promo_code(
            info.context.principal, cart_id, code, expected_version
        )
        return CartPayload.from_outcome(outcome)

    @strawberry.mutation(
        description="At sign-in: folds the guest cart (its token as argument or X-Cart-Token "
        "header) into the customer's cart by `policy` (default: the configured one); promo "
        "codes carry over."
    )
    async def cart_merge_guest(
        self,
        info: Info,
        guest_cart_token: str | None = None,
        policy: CartMergePolicy | None = None,
    ) -> CartPayload:
        outcome = await info.context.services.cart_merge.merge_guest(
            info.context.principal,
            guest_cart_token,
            MergePolicySetting(policy.value) if policy else None,
        )
        return CartPayload.from_outcome(outcome)


def _requests(lines: list[CartLineInput]) -> list[LineRequest]:
    return [LineRequest(str(line.sku), line.quantity) for line in lines]
