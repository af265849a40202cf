"""Square Inventory as omnigate's InventoryPort: sellable (IN_STOCK) counts per SKU and location."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from itertools import chain
from typing import Any

import msgspec

from connectors.http import UpstreamHttp
from connectors.records import Restock, StockLevel
from connectors.square.catalog import VariationCatalog
from connectors.square.client import SquareClient, chunks
from connectors.square.settings import SquareSettings

# BatchRetrieveInventoryCounts documents no cap on catalog_object_ids; 1000 mirrors the
# Catalog API's batch cap and keeps one request body bounded.
VARIATIONS_PER_CALL = 1000
# BatchRetrieveInventoryCountsRequest.limit: ">= 1, <= 1000"; the maximum means fewest pages.
COUNTS_PAGE_LIMIT = 1000


class _Count(msgspec.Struct, gc=False):
    """An InventoryCount, with only the fields stock reads (about half of what Square sends:
    the rest is never made into Python objects). Defaults stand in for absent fields; the
    row is then skipped, as it was when counts were read as dicts. Strings and numbers
    only, so no cycle can form: the garbage collector need not track them."""

    catalog_object_id: str = ""
    state: str = ""
    location_id: str | None = None
    quantity: str | int | float = "0"  # Square sends a decimal string


class _CountsPage(msgspec.Struct):
    # a null in the list is skipped like any other count that says nothing
    counts: list[_Count | None] = []
    cursor: str | None = None


# Decoding the ~260 counts of a product page to these costs about half of decoding them to
# dicts, and the loop below reads attributes instead of calling dict.get (bench/README.md).
_COUNTS_PAGE = msgspec.json.Decoder(_CountsPage)


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
        if len(batches) == 1:  # the usual case: no task to gather
            answers = [await self._pages(batches[0], location_ids)]
        else:
            answers = await asyncio.gather(*(self._pages(b, location_ids) for b in batches))
        # One pass over every count (about 260 for a page of 20 products): this loop is a
        # measurable share of a product page's CPU, hence the inlined whole-number case.
        levels: list[StockLevel] = []
        for counts in chain.from_iterable(answers):
            for count in counts:
                if count is None or count.state != "IN_STOCK":
                    continue
                variation_skus = skus_by_variation.get(count.catalog_object_id)
                location_id = count.location_id
                if not variation_skus or location_id is None:
                    continue
                quantity = _WHOLE_UNITS.get(count.quantity)
                if quantity is None:
                    quantity = _whole_units(count.quantity)
                for sku in variation_skus:
                    levels.append(StockLevel(sku, location_id, quantity))
        return levels

    async def skus_for_items(self, item_ids: Sequence[str]) -> dict[str, str]:
        """SKU per variation id (inventory.count.updated names variations), remembered as
        every mapping is."""
        return await self._catalog.skus(item_ids)

    async def restock(self, restock: Restock) -> None:
        """BatchChangeInventory: each SKU's units an ADJUSTMENT from NONE to IN_STOCK at the
        location, under the key (Square answers the first call again for it). A SKU the
        catalog does not know is skipped: Square tracks no stock for it."""
        variation_by_sku = await self._catalog.variation_ids([sku for sku, _ in restock.quantities])
        changes = [
            {
                "type": "ADJUSTMENT",
                "adjustment": {
                    "from_state": "NONE",
                    "to_state": "IN_STOCK",
                    "location_id": restock.location_id,
                    "catalog_object_id": variation_by_sku[sku],
                    "quantity": str(units),
                },
            }
            for sku, units in restock.quantities
            if sku in variation_by_sku and units > 0
        ]
        if not changes:
            return
        body = {"idempotency_key": restock.idempotency_key, "changes": changes}
        await self._client.call(
            "square.inventory.batch_change",
            "POST",
            "/v2/inventory/changes/batch-create",
            body,
            idempotent=True,
        )

    async def _pages(
        self, variation_ids: list[str], location_ids: Sequence[str] | None
    ) -> list[list[_Count | None]]:
        """The `counts` of every page."""
        body: dict[str, Any] = {
            "catalog_object_ids": variation_ids,
            "states": ["IN_STOCK"],
            "limit": COUNTS_PAGE_LIMIT,
        }
        if location_ids is not None:
            body["location_ids"] = list(dict.fromkeys(location_ids))
        operation = "square.inventory.batch_retrieve_counts"
        path = "/v2/inventory/counts/batch-retrieve"
        return [
            page.counts async for page in self._client.pages(operation, path, body, _COUNTS_PAGE)
        ]


# Square's whole-unit quantities ("12") and their ints, as the counts loop met them: int()
# of a string costs about as much as the rest of a count's work (about 240 counts a page).
# Kept for the first _WHOLE_UNITS_KEPT different strings; the rest are converted each time.
_WHOLE_UNITS: dict[str | int | float, int] = {}  # keys: strings only
_WHOLE_UNITS_KEPT = 10_000


def _whole_units(raw: str | int | float) -> int:
    if type(raw) is str and raw.isdecimal():  # decimal digits only: int() takes all of them
        quantity = int(raw)
        if len(_WHOLE_UNITS) < _WHOLE_UNITS_KEPT:
            _WHOLE_UNITS[raw] = quantity
        return quantity
    return _sellable(raw)


def _sellable(raw: object) -> int:
    """Whole units from Square's decimal-string quantity; a negative count sells nothing."""
    try:
        quantity = Decimal(str(raw))
    except InvalidOperation:
        return 0
    return max(0, int(quantity)) if quantity.is_finite() else 0
