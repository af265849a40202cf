"""What changed in the catalog, written where every pod sees it.

One document per change in `catalog_changes`: its kind (stock or product), the location for
stock (None: online, the warehouse), the SKUs, and when. The documents carry no values, so
two writers racing can never leave a stale value behind: subscribers read the values after
they hear of the change. A TTL index removes them after `retention`; the change stream,
not the collection, is what subscribers read.

`StockChangeSink` is the one protocol every omnigate write that moves stock calls
(checkout today, holds later): `await sink.stock_changed(location_id, skus)`.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]
COLLECTION = "catalog_changes"


class ChangeKind(enum.StrEnum):
    STOCK = "stock"  # quantities at one location
    PRODUCT = "product"  # price, name, images


class StockChangeSink(Protocol):
    async def stock_changed(self, location_id: str | None, skus: Collection[str]) -> None:
        """Stock of `skus` at `location_id` (None: online) may have moved: subscribers
        re-read it. Raises PyMongoError if the change could not be recorded."""
        ...


class CatalogChanges:
    """Records changes; `StockChangeSink` for omnigate's own writes, and what the webhooks
    and the polling fallback call."""

    def __init__(
        self, database: AsyncDatabase[Document], retention: timedelta = timedelta(hours=1)
    ) -> None:
        self.collection: AsyncCollection[Document] = database[COLLECTION]
        self._retention = retention

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            "at", expireAfterSeconds=int(self._retention.total_seconds())
        )

    async def stock_changed(self, location_id: str | None, skus: Collection[str]) -> None:
        await self._record(ChangeKind.STOCK, location_id, skus)

    async def product_changed(self, skus: Sequence[str]) -> None:
        await self._record(ChangeKind.PRODUCT, None, skus)

    async def _record(
        self, kind: ChangeKind, location_id: str | None, skus: Collection[str]
    ) -> None:
        unique = list(dict.fromkeys(skus))
        if not unique:
            return
        await self.collection.insert_one(
            {"kind": kind.value, "location": location_id, "skus": unique, "at": datetime.now(UTC)}
        )
