"""The catalog changes a vendor's webhook announces, for live subscribers (docs/live.md).

Square `inventory.count.updated`: `data.object.inventory_counts[]`, each with the variation
(`catalog_object_id`) and `location_id` whose count changed
(developer.squareup.com/reference/square/inventory-api/webhooks/inventory.count.updated).
Shopify `products/update` (and `products/create`): the REST Product resource, its
`variants[].sku` (shopify.dev/docs/api/webhooks, topic PRODUCTS_UPDATE). Shopify
`inventory_levels/update` names an `inventory_item_id` and a Shopify `location_id`; the
Shopify adapter reads no inventory today, so it changes nothing omnigate shows and is
acknowledged only.
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
