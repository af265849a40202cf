"""Shopify inventory as omnigate's InventoryPort: the `available` units of each SKU at each
location, from the inventory levels of the SKU's variant's inventory item.

Returned units go back on sale with `inventoryAdjustQuantities` (StockReturns.restock).
One Admin GraphQL call per SKUS_PER_STOCK_CALL SKUs (a product page of 20 is one call),
sized to Shopify's single-query cost cap (retail_documents.py); an item stocked at more
locations than one call reads has the rest read by its own calls. Location ids are Shopify
Location gids, the ids ShopifyPos gives stores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from connectors.errors import UpstreamRejected
from connectors.http import UpstreamHttp
from connectors.records import Restock, StockLevel
from connectors.shopify import mapping, retail_documents
from connectors.shopify.admin import describe_user_errors, shaped
from connectors.shopify.graphql import ShopifyGraphql
from connectors.shopify.retail_documents import AVAILABLE
from connectors.shopify.search import any_of
from connectors.shopify.settings import ShopifySettings

ITEM_GID_PREFIX = "gid://shopify/InventoryItem/"


class ShopifyInventory:
    def __init__(self, http: UpstreamHttp, settings: ShopifySettings) -> None:
        self.service = http.service
        self._graphql = ShopifyGraphql(http, settings)
        self._settings = settings

    @property
    def online_location_id(self) -> str:
        """The Location whose stock an online cart is counted against."""
        return self._settings.online_location_id

    async def stock(
        self, skus: Sequence[str], location_ids: Sequence[str] | None = None
    ) -> list[StockLevel]:
        wanted = list(dict.fromkeys(sku for sku in skus if sku))
        if not wanted or (location_ids is not None and not location_ids):
            return []
        size = retail_documents.SKUS_PER_STOCK_CALL
        batches = [wanted[start : start + size] for start in range(0, len(wanted), size)]
        if len(batches) == 1:
            answers = [await self._batch(batches[0])]
        else:
            answers = await asyncio.gather(*(self._batch(batch) for batch in batches))
        places = set(location_ids) if location_ids is not None else None
        return [
            level
            for answer in answers
            for level in answer
            if places is None or level.location_id in places
        ]

    async def restock(self, restock: Restock) -> None:
        """Returned units back on sale (StockReturns): `inventoryAdjustQuantities` adding
        them to `available` at the store, under the return's key (Shopify's @idempotent
        answers a retry with the first adjustment and adds nothing more). A SKU the shop
        has no item for, or whose item is not stocked at that store, is skipped: Shopify
        tracks no units for it there, as Square's restock skips a SKU it does not know."""
        units = {sku: n for sku, n in restock.quantities if sku and n > 0}
        if not units:
            return
        items = await self._items_at(list(units), restock.location_id)
        changes = [
            {
                "inventoryItemId": items[sku],
                "locationId": restock.location_id,
                "delta": n,
                # omnigate adds to whatever the till counts now: no compare-and-swap
                "changeFromQuantity": None,
            }
            for sku, n in units.items()
            if sku in items
        ]
        if not changes:
            return
        operation = "shopify.restock"
        variables = {
            "input": {"name": AVAILABLE, "reason": "restock", "changes": changes},
            "key": restock.idempotency_key,
        }
        data = await self._graphql.query(
            operation, retail_documents.RESTOCK, variables, idempotent=True
        )
        with self._shape(operation):
            payload = data["inventoryAdjustQuantities"]
            errors = payload["userErrors"]
            if errors or payload["inventoryAdjustmentGroup"] is None:
                raise UpstreamRejected(self.service, operation, describe_user_errors(errors))

    async def _items_at(self, skus: list[str], location_id: str) -> dict[str, str]:
        """The inventory item of each SKU stocked at the location."""
        operation = "shopify.items_at_location"
        found: dict[str, str] = {}
        size = retail_documents.SKUS_PER_ITEM_LOOKUP
        for start in range(0, len(skus), size):
            batch = skus[start : start + size]
            variables = {
                "first": len(batch),
                "query": any_of("sku", batch),
                "location": location_id,
            }
            data = await self._graphql.query(
                operation, retail_documents.ITEMS_AT_LOCATION, variables, idempotent=True
            )
            with self._shape(operation):
                for edge in data["productVariants"]["edges"]:
                    node = edge["node"]
                    item = node.get("inventoryItem")
                    if node.get("sku") in batch and item and item.get("inventoryLevel"):
                        found[node["sku"]] = item["id"]
        return found

    async def skus_for_items(self, item_ids: Sequence[str]) -> dict[str, str]:
        """SKU per InventoryItem gid (what inventory_levels/update names, as a legacy id the
        webhook receiver makes a gid); an id the shop does not know is left out."""
        operation = "shopify.item_skus"
        wanted = list(dict.fromkeys(i for i in item_ids if i.startswith(ITEM_GID_PREFIX)))
        size = retail_documents.ITEMS_PER_SKU_LOOKUP
        found: dict[str, str] = {}
        for start in range(0, len(wanted), size):
            data = await self._graphql.query(
                operation,
                retail_documents.ITEM_SKUS,
                {"ids": wanted[start : start + size]},
                idempotent=True,
            )
            with self._shape(operation):
                for node in data["nodes"]:
                    # an id of another kind answers that object, or null when unknown
                    if node and node["__typename"] == "InventoryItem" and node.get("sku"):
                        found[node["id"]] = node["sku"]
        return found

    async def _batch(self, skus: list[str]) -> list[StockLevel]:
        operation = "shopify.stock"
        wanted = set(skus)
        levels: list[StockLevel] = []
        more: list[tuple[str, str, str]] = []  # (sku, item id, cursor) with levels left
        variables: dict[str, Any] = {"first": len(skus), "query": any_of("sku", skus)}
        data = await self._graphql.query(
            operation, retail_documents.STOCK_BY_SKU, variables, idempotent=True
        )
        with self._shape(operation):
            for edge in data["productVariants"]["edges"]:
                node = edge["node"]
                sku = node.get("sku")
                item = node.get("inventoryItem")
                if sku not in wanted or item is None:
                    continue  # the search matches more loosely than SKU equality
                wanted.discard(sku)
                connection = item["inventoryLevels"]
                levels += _levels(sku, connection)
                if connection["pageInfo"]["hasNextPage"]:
                    more.append((sku, item["id"], connection["pageInfo"]["endCursor"]))
        for sku, item_id, cursor in more:
            levels += await self._rest(sku, item_id, cursor)
        return levels

    async def _rest(self, sku: str, item_id: str, cursor: str) -> list[StockLevel]:
        operation = "shopify.stock_levels"
        levels: list[StockLevel] = []
        after: str | None = cursor
        while after is not None:
            data = await self._graphql.query(
                operation,
                retail_documents.ITEM_LEVELS,
                {"id": item_id, "after": after},
                idempotent=True,
            )
            with self._shape(operation):
                item = data["inventoryItem"]
                if item is None:
                    break
                connection = item["inventoryLevels"]
                levels += _levels(sku, connection)
                page = connection["pageInfo"]
                after = page["endCursor"] if page["hasNextPage"] else None
        return levels

    def _shape(self, operation: str) -> AbstractContextManager[None]:
        return shaped(self.service, operation)


def _levels(sku: str, connection: mapping.Node) -> list[StockLevel]:
    """Sellable units per location; a negative `available` (oversold) sells nothing."""
    found = []
    for edge in connection["edges"]:
        level = edge["node"]
        available = next(
            (q["quantity"] for q in level["quantities"] if q["name"] == retail_documents.AVAILABLE),
            0,
        )
        found.append(StockLevel(sku, level["location"]["id"], max(0, int(available))))
    return found
