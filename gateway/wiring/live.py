"""The live catalog's parts (commerce/live): the change log, this process's feed of it, the
reads, and the polling fallback for a vendor that sends no webhooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from commerce.live.changes import CatalogChanges, ChangeKind
from commerce.live.feed import CatalogChangeFeed, LiveObserver
from commerce.live.poll import CatalogPoller
from commerce.live.reads import LiveReads
from commerce.live.service import LiveCatalog, LiveLimits
from commerce.recent_catalog import RecentCatalog
from commerce.stores import StoreDirectory
from commerce.tasks import cancel_and_wait
from connectors.ports import EcommercePort, InventoryPort
from gateway.settings import Settings

log = logging.getLogger(__name__)
# the adapters whose vendor sends signed webhooks omnigate receives (gateway/webhooks)
WEBHOOK_VENDORS = ("square", "shopify")


@dataclass(slots=True)
class LiveKit:
    changes: CatalogChanges
    catalog: LiveCatalog
    poll_task: asyncio.Task[None] | None

    async def close(self) -> None:
        if self.poll_task is not None:
            await cancel_and_wait([self.poll_task])
        await self.catalog.feed.close()


def has_webhooks(settings: Settings, adapter: str) -> bool:
    """Whether the vendor behind `adapter` sends its webhooks here (a setting per vendor);
    an adapter of another vendor has no webhook route, so it is polled."""
    if adapter == "square":
        return settings.live.square_webhooks
    if adapter == "shopify":
        return settings.live.shopify_webhooks
    return False


async def build_live(
    settings: Settings,
    database: AsyncDatabase[dict[str, Any]],
    *,
    inventory: InventoryPort,
    ecommerce: EcommercePort,
    stores: StoreDirectory,
    recent_catalog: RecentCatalog,
    observer: LiveObserver | None = None,
) -> LiveKit:
    live = settings.live
    changes = CatalogChanges(database, timedelta(seconds=live.change_retention_seconds))
    try:
        await changes.ensure_indexes()
    except PyMongoError as exc:
        log.warning("could not ensure the catalog change index: %s", exc)
    feed = CatalogChangeFeed(
        changes.collection,
        await_seconds=min(1.0, settings.mongodb_timeout_seconds / 2),
        observer=observer,
    )

    def forget(kind: ChangeKind, skus: Sequence[str]) -> None:
        # whatever a vendor or a write changed is not a value to fall back on any more
        if kind is ChangeKind.STOCK:
            recent_catalog.forget_stock(skus)
        else:
            recent_catalog.forget_products(skus)

    feed.add_listener(forget)
    reads = LiveReads(inventory, ecommerce, stores)
    limits = LiveLimits(
        max_skus=live.max_skus_per_subscription,
        max_lag_seconds=live.max_lag_seconds,
        max_pending=live.max_pending_skus,
        min_interval_seconds=live.min_message_interval_seconds,
    )
    poll_stock = not has_webhooks(settings, settings.adapters.inventory)
    poll_products = not has_webhooks(settings, settings.adapters.ecommerce)
    task = None
    if poll_stock or poll_products:
        poller = CatalogPoller(
            feed,
            reads,
            changes,
            interval_seconds=live.poll_interval_seconds,
            stock=poll_stock,
            products=poll_products,
        )
        task = asyncio.create_task(poller.run(), name="live-catalog-poll")
    return LiveKit(changes, LiveCatalog(feed, reads, stores, limits), task)
