"""What changed in the catalog, written where every pod sees it.

One document per change in `catalog_changes` (a ChangeLog, commerce/change_streams.py): its
kind (stock or product), the location for stock (None: online, the warehouse), the SKUs,
and when; never the values, which subscribers read after they hear of the change.

`StockChangeSink` is the one protocol every omnigate write that moves stock calls
(checkout today, holds later): `await sink.stock_changed(location_id, skus)`.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase

from commerce.change_streams import ChangeLog

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


class CatalogChanges(ChangeLog):
    """Records changes; `StockChangeSink` for omnigate's own writes, and what the webhooks
    and the polling fallback call."""

    def __init__(
        self, database: AsyncDatabase[Document], retention: timedelta = timedelta(hours=1)
    ) -> None:
        super().__init__(database, COLLECTION, retention)

    async def stock_changed(self, location_id: str | None, skus: Collection[str]) -> None:
        await self._record(ChangeKind.STOCK, location_id, skus)

    async def product_changed(self, skus: Sequence[str]) -> None:
        await self._record(ChangeKind.PRODUCT, None, skus)

    async def _record(
        self, kind: ChangeKind, location_id: str | None, skus: Collection[str]
    ) -> None:
        unique = list(dict.fromkeys(skus))
        if unique:
            await self.append({"kind": kind.value, "location": location_id, "skus": unique})
