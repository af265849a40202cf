"""`stockChanged` and `productChanged`: live stock and products for kiosks and displays.

Each sends the current values of what it follows on subscribing, then the SKUs that changed
with their values read afresh, however many changes came between two messages
(docs/live.md). A subscriber that stops reading is dropped: the socket closes with 4008.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from commerce.change_streams import FeedUnavailable
from commerce.live import SubscriberFellBehind
from engine.context import Info
from engine.errors import PublicError
from engine.sockets import FELL_BEHIND_REASON, WS_FELL_BEHIND, closer
from resolvers.products import Product
from resolvers.stores import SkuStock

LIVE_UPDATES_UNAVAILABLE = "Live updates are unavailable right now."


@strawberry.type(description="Stock that changed at one store, or online.")
class StockUpdate:
    store_id: strawberry.ID | None = strawberry.field(description="null: online stock.")
    levels: list[SkuStock]


@strawberry.type(description="Products whose price, name or images changed, as they are now.")
class ProductUpdate:
    products: list[Product]


@strawberry.type
class LiveSubscriptions:
    @strawberry.subscription(
        description="Stock of `skus` at `storeId` (null: online), as it is when subscribing "
        "and then whenever it changes; `skus` null follows every SKU of the store (changes "
        "only). Changes are coalesced: each message holds the current quantity of every "
        "SKU that changed since the last one. A display follows its own store only."
    )
    async def stock_changed(
        self,
        info: Info,
        store_id: strawberry.ID | None = None,
        skus: list[strawberry.ID] | None = None,
    ) -> AsyncGenerator[StockUpdate, None]:
        context = info.context
        close = closer(context, WS_FELL_BEHIND, FELL_BEHIND_REASON)
        updates = context.services.live.stock(context.principal, store_id, skus, close)
        try:
            async for update in updates:
                yield StockUpdate(
                    store_id=store_id,
                    levels=[
                        SkuStock(sku=strawberry.ID(sku), quantity=q, in_stock=q > 0)
                        for sku, q in update.values
                    ],
                )
        except FeedUnavailable as exc:
            raise PublicError(LIVE_UPDATES_UNAVAILABLE, code="CACHE_UNAVAILABLE") from exc
        except SubscriberFellBehind as exc:
            raise PublicError(FELL_BEHIND_REASON, code="SUBSCRIBER_TOO_SLOW") from exc
        finally:
            await updates.aclose()

    @strawberry.subscription(
        description="The products as they are when subscribing, then each time a price, "
        "name or image changes (coalesced as `stockChanged` is)."
    )
    async def product_changed(
        self, info: Info, skus: list[strawberry.ID]
    ) -> AsyncGenerator[ProductUpdate, None]:
        context = info.context
        close = closer(context, WS_FELL_BEHIND, FELL_BEHIND_REASON)
        updates = context.services.live.products(context.principal, skus, close)
        try:
            async for update in updates:
                yield ProductUpdate(
                    products=[Product.from_record(record) for _, record in update.values]
                )
        except FeedUnavailable as exc:
            raise PublicError(LIVE_UPDATES_UNAVAILABLE, code="CACHE_UNAVAILABLE") from exc
        except SubscriberFellBehind as exc:
            raise PublicError(FELL_BEHIND_REASON, code="SUBSCRIBER_TOO_SLOW") from exc
        finally:
            await updates.aclose()
