"""Square Inventory as omnigate's InventoryPort: sellable (IN_STOCK) counts per SKU and location."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.http import UpstreamHttp
from connectors.records import StockLevel
from connectors.square.catalog import VariationCatalog
from connectors.square.client import SquareClient, chunks
from connectors.square.settings import SquareSettings

# BatchRetrieveInventoryCounts documents no cap on catalog_object_ids; 1000 mirrors the
# Catalog API's batch cap and keeps one request body bounded.
VARIATIONS_PER_CALL = 1000
# BatchRetrieveInventoryCountsRequest.limit: ">= 1, <= 1000"; the maximum means fewest pages.
COUNTS_PAGE_LIMIT = 1000


class SquareInventory:
    def __init__(
        self,
        http: UpstreamHttp,
        settings: SquareSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        catalog: VariationCatalog | None = None,
    ) -> None:
        """`catalog`: share the SKU mapping with the POS adapter (`SquarePos.catalog`), so
        one lookup serves both stock reads and order lines."""
        self.service = http.service
        self._client = SquareClient(http, settings)
        self._catalog = catalog or VariationCatalog(
            self._client, settings.catalog_cache_seconds, clock
        )

    async def stock(
        self, skus: Sequence[str], location_ids: Sequence[str] | None = None
    ) -> list[StockLevel]:
        if not skus or (location_ids is not None and not location_ids):
            return []
        variation_by_sku = await self._catalog.variation_ids(skus)
        skus_by_variation: dict[str, list[str]] = {}
        for sku, variation_id in variation_by_sku.items():
            skus_by_variation.setdefault(variation_id, []).append(sku)
        batches = chunks(list(skus_by_variation), VARIATIONS_PER_CALL)
        counts = await asyncio.gather(*(self._counts(batch, location_ids) for batch in batches))
        levels: list[StockLevel] = []
        for count in (c for batch in counts for c in batch):
            for sku in skus_by_variation.get(count.get("catalog_object_id", ""), ()):
                levels.append(StockLevel(sku, count["location_id"], _sellable(count)))
        return levels

    async def _counts(
        self, variation_ids: list[str], location_ids: Sequence[str] | None
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {
            "catalog_object_ids": variation_ids,
            "states": ["IN_STOCK"],
            "limit": COUNTS_PAGE_LIMIT,
        }
        if location_ids is not None:
            body["location_ids"] = list(dict.fromkeys(location_ids))
        counts: list[dict[str, Any]] = []
        async for page in self._client.pages(
            "square.inventory.batch_retrieve_counts", "/v2/inventory/counts/batch-retrieve", body
        ):
            counts.extend(
                c
                for c in page.get("counts") or []
                if isinstance(c, dict) and c.get("state") == "IN_STOCK" and "location_id" in c
            )
        return counts


def _sellable(count: dict[str, Any]) -> int:
    """Whole units from Square's decimal-string quantity; a negative count sells nothing."""
    raw = str(count.get("quantity", "0"))
    if raw.isdigit():  # the common case, a whole count: skip Decimal's parse
        return int(raw)
    try:
        quantity = Decimal(raw)
    except InvalidOperation:
        return 0
    return max(0, int(quantity)) if quantity.is_finite() else 0
