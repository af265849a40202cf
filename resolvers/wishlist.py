"""The wishlist: the signed-in customer's, on every channel, with today's price and stock."""

from __future__ import annotations

from datetime import datetime

import strawberry

from commerce.wishlist.model import StoredWishlist
from commerce.wishlist.service import WishlistOutcome
from engine.context import Info
from resolvers.cart_types import Cart, CartUserError, cart_or_none
from resolvers.products import Product


@strawberry.type
class WishlistItem:
    sku: strawberry.ID
    added_at: datetime

    @strawberry.field(description="Price and availability as they are now; null if no longer sold.")
    async def product(self, info: Info) -> Product | None:
        record = await info.context.loaders.product_by_sku.load(self.sku)
        return Product.from_record(record) if record else None


@strawberry.type
class Wishlist:
    items: list[WishlistItem]
    updated_at: datetime | None

    @classmethod
    def from_stored(cls, wishlist: StoredWishlist) -> Wishlist:
        return cls(
            items=[
                WishlistItem(sku=strawberry.ID(item.sku), added_at=item.added_at)
                for item in wishlist.items
            ],
            updated_at=wishlist.updated_at,
        )


@strawberry.type
class WishlistPayload:
    wishlist: Wishlist | None
    cart: Cart | None = strawberry.field(description="The cart, after a move to it.")
    user_errors: list[CartUserError]

    @classmethod
    def from_outcome(cls, outcome: WishlistOutcome) -> WishlistPayload:
        return cls(
            wishlist=Wishlist.from_stored(outcome.wishlist) if outcome.wishlist else None,
            cart=cart_or_none(outcome.cart),
            user_errors=[CartUserError.from_error(e) for e in outcome.errors],
        )


@strawberry.type
class WishlistQueries:
    @strawberry.field(description="The signed-in customer's wishlist; null for anyone else.")
    async def wishlist(self, info: Info) -> Wishlist | None:
        found = await info.context.services.wishlists.get(info.context.principal)
        return Wishlist.from_stored(found) if found else None


@strawberry.type
class WishlistMutations:
    @strawberry.mutation
    async def wishlist_add(self, info: Info, sku: strawberry.ID) -> WishlistPayload:
        outcome = await info.context.services.wishlists.add(
            info.context.principal, sku, info.context.loaders
        )
        return WishlistPayload.from_outcome(outcome)

    @strawberry.mutation
    async def wishlist_remove(self, info: Info, sku: strawberry.ID) -> WishlistPayload:
        outcome = await info.context.services.wishlists.remove(info.context.principal, sku)
        return WishlistPayload.from_outcome(outcome)

    @strawberry.mutation(
        description="Into the customer's cart and off the wishlist, both or neither."
    )
    async def wishlist_move_to_cart(
        self, info: Info, sku: strawberry.ID, quantity: int = 1
    ) -> WishlistPayload:
        outcome = await info.context.services.wishlists.move_to_cart(
            info.context.principal, sku, quantity, info.context.loaders
        )
        return WishlistPayload.from_outcome(outcome)
