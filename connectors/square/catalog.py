"""SKU <-> Square variation id, through the Catalog API, remembered for a while.

Square keys inventory and order line items by the ITEM_VARIATION's catalog id, while omnigate
keys products by SKU. Mappings (including "Square has no such SKU") are kept per adapter
instance for `catalog_cache_seconds`, so a repeated stock read only asks for the counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.square.client import SquareClient, chunks

# CatalogQuerySet: "A maximum of 250 values may be searched in a request."
SKUS_PER_SEARCH = 250
# RetrieveCatalogInfo: search_max_page_limit and batch_retrieve_max_object_ids are 1000.
SEARCH_PAGE_LIMIT = 1000
IDS_PER_BATCH_RETRIEVE = 1000


@dataclass(frozen=True, slots=True)
class _Entry:
    value: str | None  # None: Square answered and knows no such object
    expires_at: float


class VariationCatalog:
    def __init__(
        self, client: SquareClient, ttl_seconds: float, clock: Callable[[], float]
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._variation_by_sku: dict[str, _Entry] = {}  # keyed by lower-cased SKU
        self._sku_by_variation: dict[str, _Entry] = {}

    async def variation_ids(self, skus: Sequence[str]) -> dict[str, str]:
        """Variation id per SKU Square knows; one catalog search per 250 SKUs not remembered."""
        missing = [
            sku
            for sku in dict.fromkeys(s.lower() for s in skus)
            if not self._fresh(self._variation_by_sku, sku)
        ]
        if missing:  # usually not: the mapping is remembered
            await asyncio.gather(
                *(self._search(chunk) for chunk in chunks(missing, SKUS_PER_SEARCH))
            )
        found: dict[str, str] = {}
        for sku in skus:
            entry = self._variation_by_sku.get(sku.lower())
            if entry is not None and entry.value is not None:
                found[sku] = entry.value
        return found

    async def skus(self, variation_ids: Sequence[str]) -> dict[str, str]:
        """SKU per variation id; one batch retrieve per 1000 ids not remembered."""
        missing = [
            vid
            for vid in dict.fromkeys(variation_ids)
            if not self._fresh(self._sku_by_variation, vid)
        ]
        await asyncio.gather(
            *(self._retrieve(chunk) for chunk in chunks(missing, IDS_PER_BATCH_RETRIEVE))
        )
        found: dict[str, str] = {}
        for vid in variation_ids:
            entry = self._sku_by_variation.get(vid)
            if entry is not None and entry.value is not None:
                found[vid] = entry.value
        return found

    def _fresh(self, cache: dict[str, _Entry], key: str) -> bool:
        entry = cache.get(key)
        return entry is not None and entry.expires_at > self._clock()

    async def _search(self, skus: list[str]) -> None:
        body = {
            "object_types": ["ITEM_VARIATION"],
            "query": {"set_query": {"attribute_name": "sku", "attribute_values": skus}},
            "limit": SEARCH_PAGE_LIMIT,
        }
        expires_at = self._clock() + self._ttl
        answered = dict.fromkeys(skus)
        async for page in self._client.pages("square.catalog.search", "/v2/catalog/search", body):
            for obj in page.get("objects") or []:
                sku = _variation_sku(obj)
                if sku is not None and sku.lower() in answered:
                    answered[sku.lower()] = obj["id"]
                    self._sku_by_variation[obj["id"]] = _Entry(sku, expires_at)
        for sku, variation_id in answered.items():
            self._variation_by_sku[sku] = _Entry(variation_id, expires_at)

    async def _retrieve(self, variation_ids: list[str]) -> None:
        payload = await self._client.call(
            "square.catalog.batch_retrieve",
            "POST",
            "/v2/catalog/batch-retrieve",
            {"object_ids": variation_ids},
            idempotent=True,
        )
        expires_at = self._clock() + self._ttl
        answered: dict[str, str | None] = dict.fromkeys(variation_ids)
        for obj in payload.get("objects") or []:
            sku = _variation_sku(obj)
            if sku is not None and obj.get("id") in answered:
                answered[obj["id"]] = sku
        for vid, sku in answered.items():
            self._sku_by_variation[vid] = _Entry(sku, expires_at)


def _variation_sku(obj: Any) -> str | None:
    if not isinstance(obj, dict) or obj.get("type") != "ITEM_VARIATION" or "id" not in obj:
        return None
    sku = (obj.get("item_variation_data") or {}).get("sku")
    return sku if isinstance(sku, str) and sku else None
