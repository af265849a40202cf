"""`cartUpdated`: every device watching a cart sees each change, made through any pod.

When the gateway loses its change feed (MongoDB electing a new primary, or unreachable) the
subscription stays open and says so: one event that is an error at the field's path with
code LIVE_UPDATES_INTERRUPTED (data null), then, once the feed is back, the cart as it is
then with a LIVE_UPDATES_RESUMED warning (docs/cart.md "Live updates").
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from commerce.access import DISPLAY_REFUSED, display_refusals
from commerce.cart.changes import FeedState
from commerce.cart.live import follow
from commerce.change_streams import FeedUnavailable
from commerce.errors import Forbidden
from engine.context import Info
from engine.errors import PublicError
from engine.loaders import Loaders
from engine.notices import add_warning, field_error
from resolvers.cart_types import Cart

LIVE_UPDATES_INTERRUPTED = "LIVE_UPDATES_INTERRUPTED"
LIVE_UPDATES_RESUMED = "LIVE_UPDATES_RESUMED"
INTERRUPTED_MESSAGE = (
    "Live updates of this cart are interrupted; the cart may have changed since. They "
    "resume by themselves, starting with the cart as it is then."
)
RESUMED_MESSAGE = "Live updates resumed: this is the cart as it is now."


@strawberry.type
class CartSubscriptions:
    @strawberry.subscription(
        description="The cart as it is when subscribing, then after every change; completes "
        "after the cart is checked out or merged. While live updates are interrupted an "
        "event is an error with code LIVE_UPDATES_INTERRUPTED; the first cart after it "
        "carries a LIVE_UPDATES_RESUMED warning in `extensions.warnings`."
    )
    async def cart_updated(self, info: Info, cart_id: strawberry.ID) -> AsyncGenerator[Cart, None]:
        services = info.context.services
        if display_refusals(info.context.principal, ["Subscription.cartUpdated"]):
            raise Forbidden(DISPLAY_REFUSED)
        if await services.carts.find(info.context.principal, cart_id) is None:
            raise PublicError("No cart with this id.", code="NOT_FOUND")
        path = info.path.as_list()
        events = follow(services.cart_feed, services.carts.stored, cart_id)
        try:
            async for event in events:
                if event is FeedState.INTERRUPTED:
                    yield field_error(
                        PublicError(INTERRUPTED_MESSAGE, code=LIVE_UPDATES_INTERRUPTED)
                    )
                    continue
                if event.resumed:
                    add_warning(path, LIVE_UPDATES_RESUMED, RESUMED_MESSAGE)
                # fresh loaders per event: prices and stock must not come from an earlier
                # event's cache
                info.context.loaders = Loaders(services)
                yield Cart.from_stored(event.cart)
        except FeedUnavailable as exc:
            raise PublicError(
                "Live cart updates are unavailable right now.", code="CACHE_UNAVAILABLE"
            ) from exc
        finally:
            await events.aclose()
