"""`cartUpdated`: every device watching a cart sees each change, made through any pod."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from commerce.cart.changes import FeedUnavailable
from commerce.cart.model import CartStatus
from engine.context import Info
from engine.errors import PublicError
from engine.loaders import Loaders
from resolvers.cart_types import Cart


@strawberry.type
class CartSubscriptions:
    @strawberry.subscription(
        description="The cart as it is when subscribing, then after every change; completes "
        "after the cart is checked out or merged."
    )
    async def cart_updated(self, info: Info, cart_id: strawberry.ID) -> AsyncGenerator[Cart, None]:
        services = info.context.services
        if await services.carts.find(info.context.principal, cart_id) is None:
            raise PublicError("No cart with this id.", code="NOT_FOUND")
        try:
            async with services.cart_feed.subscribe(cart_id) as changes:
                # read after subscribing, so no change falls between the read and the feed
                current = await services.carts.stored(cart_id)
                if current is None:
                    return
                yield Cart.from_stored(current)
                if current.status in (CartStatus.CHECKED_OUT, CartStatus.MERGED):
                    return
                version = current.version
                while True:
                    cart = await changes.get()
                    if cart.version <= version:
                        continue
                    version = cart.version
                    # fresh loaders per event: prices and stock must not come from the
                    # first event's cache
                    info.context.loaders = Loaders(services)
                    yield Cart.from_stored(cart)
                    if cart.status in (CartStatus.CHECKED_OUT, CartStatus.MERGED):
                        return  # closed for good: the stream completes after its last state
        except FeedUnavailable as exc:
            raise PublicError(
                "Live cart updates are unavailable right now.", code="CACHE_UNAVAILABLE"
            ) from exc
