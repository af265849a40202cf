"""The polling fallback: for a vendor that sends no webhooks, this process reads what its
own subscribers follow every `interval_seconds` and records a change where a value moved.

The change goes through MongoDB like any other, so every pod's subscribers of those SKUs
hear of it; each pod polls only what its own subscribers follow, so nothing is polled
while nobody watches. A SKU polled for the first time counts as changed: its subscriber
read it when subscribing, before this poll, and a change in between must not be lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from commerce.live.changes import CatalogChanges, ChangeKind
from commerce.live.feed import CatalogChangeFeed
from commerce.live.reads import LiveReads
from connectors.records import ProductRecord

log = logging.getLogger(__name__)


class CatalogPoller:
    def __init__(
        self,
        feed: CatalogChangeFeed,
        reads: LiveReads,
        changes: CatalogChanges,
        *,
        interval_seconds: float,
        stock: bool,
        products: bool,
    ) -> None:
        self._feed = feed
        self._reads = reads
        self._changes = changes
        self._interval = interval_seconds
        self._poll_stock = stock
        self._poll_products = products
        self._stock_seen: dict[tuple[str | None, str], int] = {}
        self._products_seen: dict[str, ProductRecord] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.poll_once()
            except Exception as exc:  # an upstream or MongoDB failure: the next poll retries
                log.warning("live catalog poll failed: %s", exc)

    async def poll_once(self) -> None:
        stock: defaultdict[str | None, set[str]] = defaultdict(set)
        products: set[str] = set()
        for watch in self._feed.watched():
            interest = watch.interest
            if interest.skus is None:
                continue  # a whole store cannot be polled SKU by SKU
            if interest.kind is ChangeKind.STOCK:
                stock[interest.location_id] |= interest.skus
            else:
                products |= interest.skus
        # forget what nobody follows any more: memory stays bounded by the subscriptions
        self._stock_seen = {
            key: value for key, value in self._stock_seen.items() if key[1] in stock.get(key[0], ())
        }
        self._products_seen = {
            sku: value for sku, value in self._products_seen.items() if sku in products
        }
        if self._poll_stock:
            for location_id, skus in stock.items():
                await self._poll_stock_at(location_id, sorted(skus))
        if self._poll_products and products:
            await self._poll_products_of(sorted(products))

    async def _poll_stock_at(self, location_id: str | None, skus: list[str]) -> None:
        now = await self._reads.stock(location_id, skus)
        moved = []
        for sku, quantity in now.items():
            before = self._stock_seen.get((location_id, sku))
            self._stock_seen[(location_id, sku)] = quantity
            if before != quantity:
                moved.append(sku)
        if moved:
            await self._changes.stock_changed(location_id, moved)

    async def _poll_products_of(self, skus: list[str]) -> None:
        now = await self._reads.products(skus)
        moved = []
        for sku, record in now.items():
            before = self._products_seen.get(sku)
            self._products_seen[sku] = record
            if before != record:
                moved.append(sku)
        if moved:
            await self._changes.product_changed(moved)
