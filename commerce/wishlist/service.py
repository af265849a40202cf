"""The wishlist: per customer, the same on every channel, and a line moved to the cart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from commerce.cart.errors import CartErrorCode, CartUserError
from commerce.cart.service import CartService, LineRequest
from commerce.cart.store import FulfillmentType, StoredCart
from commerce.holds.model import HoldRefused
from commerce.holds.store import HoldKey
from commerce.ports import CatalogReads
from commerce.principal import Principal
from commerce.transactions import in_transaction
from commerce.wishlist.store import StoredWishlist, WishlistStore


@dataclass(slots=True)
class WishlistOutcome:
    wishlist: StoredWishlist | None
    cart: StoredCart | None = None
    errors: list[CartUserError] = field(default_factory=list)


def _needs_customer() -> WishlistOutcome:
    return WishlistOutcome(
        None,
        errors=[
            CartUserError(CartErrorCode.UNAUTHENTICATED, "A wishlist needs a signed-in customer.")
        ],
    )


class WishlistService:
    def __init__(
        self, store: WishlistStore, carts: CartService, mongo: AsyncMongoClient[dict[str, Any]]
    ) -> None:
        self._store = store
        self._carts = carts
        self._mongo = mongo

    async def get(self, principal: Principal) -> StoredWishlist | None:
        if principal.customer_id is None:
            return None
        return await self._store.get(principal.customer_id)

    async def add(self, principal: Principal, sku: str, reads: CatalogReads) -> WishlistOutcome:
        customer_id = principal.customer_id
        if customer_id is None:
            return _needs_customer()
        if (await reads.products([sku]))[0] is None:
            return WishlistOutcome(
                await self._store.get(customer_id),
                errors=[
                    CartUserError(
                        CartErrorCode.PRODUCT_NOT_FOUND, f"No product has SKU {sku!r}.", ("sku",)
                    )
                ],
            )
        added = await self._store.add(customer_id, sku)
        if added is None:
            return WishlistOutcome(
                await self._store.get(customer_id),
                errors=[
                    CartUserError(CartErrorCode.LIMIT_EXCEEDED, "The wishlist is full.", ("sku",))
                ],
            )
        return WishlistOutcome(added)

    async def remove(self, principal: Principal, sku: str) -> WishlistOutcome:
        customer_id = principal.customer_id
        if customer_id is None:
            return _needs_customer()
        removed = await self._store.remove(customer_id, sku)
        wishlist = await self._store.get(customer_id)
        if not removed:
            return WishlistOutcome(wishlist, errors=[_not_listed()])
        return WishlistOutcome(wishlist)

    async def move_to_cart(
        self, principal: Principal, sku: str, quantity: int, reads: CatalogReads
    ) -> WishlistOutcome:
        """Into the customer's open cart and off the wishlist, both or neither (one MongoDB
        transaction), so a failure never loses the item or doubles it."""
        customer_id = principal.customer_id
        if customer_id is None:
            return _needs_customer()
        wishlist = await self._store.get(customer_id)
        if not wishlist.holds(sku):
            return WishlistOutcome(wishlist, errors=[_not_listed()])
        cart = await self._carts.store.create_for_customer(customer_id)
        new_lines, errors = await self._carts.prepare_lines(
            cart, [LineRequest(sku, quantity)], reads
        )
        if errors:
            return WishlistOutcome(wishlist, cart, errors)

        # a pickup cart holds the moved units at its store, in the same transaction
        store_id = cart.pickup_store_id if cart.fulfillment is FulfillmentType.PICKUP else None
        shelf = await self._carts.shelf_at(store_id, [sku], reads) if store_id else {}
        held: set[HoldKey] = set()

        async def move(session: AsyncClientSession) -> StoredCart | None:
            updated = await self._carts.store.add_lines(cart.id, new_lines, None, session=session)
            if updated is None or not await self._store.remove(customer_id, sku, session):
                await session.abort_transaction()
                return None
            held.clear()
            if store_id is not None:
                plan = self._carts.hold_plan(updated, shelf, [sku])
                held.update(await self._carts.holds.apply(session, plan))
            return updated

        try:
            moved = await in_transaction(self._mongo, move)
        except HoldRefused as refused:
            outcome = await self._carts.hold_refused(cart, refused)
            return WishlistOutcome(wishlist, outcome.cart, outcome.errors)
        await self._carts.holds.announce(held)
        if moved is None:
            return WishlistOutcome(
                await self._store.get(customer_id),
                await self._carts.store.get(cart.id),
                [
                    CartUserError(
                        CartErrorCode.LIMIT_EXCEEDED,
                        "The cart cannot take this line, or the item left the wishlist.",
                        ("sku",),
                    )
                ],
            )
        return WishlistOutcome(await self._store.get(customer_id), moved)


def _not_listed() -> CartUserError:
    return CartUserError(
        CartErrorCode.NOT_IN_WISHLIST, "The wishlist does not hold this SKU.", ("sku",)
    )
