"""The catalog changes a vendor's webhook announces, for live subscribers (docs/live.md).

Square `inventory.count.updated`: `data.object.inventory_counts[]`, each with the variation
(`catalog_object_id`) and `location_id` whose count changed
(developer.squareup.com/reference/square/inventory-api/webhooks/inventory.count.updated).
Shopify `products/update` (and `products/create`): the REST Product resource, its
`variants[].sku` (shopify.dev/docs/api/webhooks, topic PRODUCTS_UPDATE). Shopify
`inventory_levels/update` (the REST InventoryLevel resource) names an `inventory_item_id`
and a `location_id`, legacy numeric ids: the stock of that item's SKU changed at the
Location `gid://shopify/Location/<location_id>`, the id Shopify inventory counts by. The
item is made a SKU by the inventory adapter (`InventoryItemSkus`); another inventory
adapter does not count by Shopify's locations, so the change is acknowledged only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from commerce.live.changes import ChangeKind

INVENTORY_COUNT_UPDATED = "inventory.count.updated"
PRODUCT_TOPICS = frozenset({"products/update", "products/create"})


@dataclass(frozen=True, slots=True)
class AnnouncedChange:
    kind: ChangeKind
    # stock: the vendor's location id; product: None
    location_id: str | None
    # SKUs (products) or the vendor's item ids (Square stock: variation ids)
    ids: tuple[str, ...]


def square_stock_changes(event: dict[str, Any]) -> list[AnnouncedChange]:
    if event.get("type") != INVENTORY_COUNT_UPDATED:
        return []
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    counts = obj.get("inventory_counts") if isinstance(obj, dict) else None
    by_location: defaultdict[str, list[str]] = defaultdict(list)
    for count in counts if isinstance(counts, list) else ():
        if not isinstance(count, dict):
            continue
        variation, location = count.get("catalog_object_id"), count.get("location_id")
        if isinstance(variation, str) and variation and isinstance(location, str) and location:
            by_location[location].append(variation)
    return [
        AnnouncedChange(ChangeKind.STOCK, location, tuple(dict.fromkeys(ids)))
        for location, ids in by_location.items()
    ]


INVENTORY_LEVELS_UPDATE = "inventory_levels/update"


def shopify_stock_changes(topic: str, payload: dict[str, Any]) -> list[AnnouncedChange]:
    if topic != INVENTORY_LEVELS_UPDATE:
        return []
    item, location = payload.get("inventory_item_id"), payload.get("location_id")
    if not _legacy_id(item) or not _legacy_id(location):
        return []
    return [
        AnnouncedChange(
            ChangeKind.STOCK,
            f"gid://shopify/Location/{location}",
            (f"gid://shopify/InventoryItem/{item}",),
        )
    ]


def _legacy_id(value: Any) -> bool:
    """A Shopify REST id: a positive whole number (never a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def shopify_product_changes(topic: str, payload: dict[str, Any]) -> list[AnnouncedChange]:
    if topic not in PRODUCT_TOPICS:
        return []
    variants = payload.get("variants")
    skus = [
        variant["sku"]
        for variant in (variants if isinstance(variants, list) else ())
        if isinstance(variant, dict) and isinstance(variant.get("sku"), str) and variant["sku"]
    ]
    if not skus:
        return []
    return [AnnouncedChange(ChangeKind.PRODUCT, None, tuple(dict.fromkeys(skus)))]
