"""A customer's wishlist as the domain sees it, read from its MongoDB document
(commerce/wishlist/store.py writes it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WishlistItem:
    sku: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class StoredWishlist:
    customer_id: str
    items: tuple[WishlistItem, ...]
    updated_at: datetime | None

    def holds(self, sku: str) -> bool:
        return any(item.sku == sku for item in self.items)

    @classmethod
    def empty(cls, customer_id: str) -> StoredWishlist:
        return cls(customer_id, (), None)

    @classmethod
    def from_document(cls, doc: Document) -> StoredWishlist:
        return cls(
            customer_id=doc["_id"],
            items=tuple(WishlistItem(i["sku"], i["added_at"]) for i in doc.get("items", [])),
            updated_at=doc.get("updated_at"),
        )
