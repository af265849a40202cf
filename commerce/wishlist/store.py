"""Wishlists in MongoDB: one document per customer (`_id` is the customer id).

Each change is one atomic update, so a phone and a laptop adding at once both land; a SKU
is listed once, keeping the time it was first added.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from commerce.wishlist.model import Document, StoredWishlist, WishlistItem

COLLECTION = "wishlists"

__all__ = ["COLLECTION", "StoredWishlist", "WishlistItem", "WishlistStore"]


class WishlistStore:
    def __init__(self, database: AsyncDatabase[Document], max_items: int) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]
        self._max_items = max_items

    async def get(self, customer_id: str) -> StoredWishlist:
        doc = await self._collection.find_one({"_id": customer_id})
        return StoredWishlist.from_document(doc) if doc else StoredWishlist.empty(customer_id)

    async def add(self, customer_id: str, sku: str) -> StoredWishlist | None:
        """None when the wishlist is full (and does not hold `sku` already)."""
        now = datetime.now(UTC)
        items = {"$ifNull": ["$items", []]}
        try:
            doc = await self._collection.find_one_and_update(
                {
                    "_id": customer_id,
                    "$or": [
                        {f"items.{self._max_items - 1}": {"$exists": False}},
                        {"items.sku": sku},
                    ],
                },
                [
                    {
                        "$set": {
                            "items": {
                                "$cond": [
                                    {"$in": [sku, {"$ifNull": ["$items.sku", []]}]},
                                    items,
                                    {"$concatArrays": [items, [{"sku": sku, "added_at": now}]]},
                                ]
                            },
                            "updated_at": now,
                        }
                    }
                ],
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            # a full wishlist misses the filter, so the upsert collides with it on _id
            return None
        assert doc is not None  # an upsert returning the document after always has one
        return StoredWishlist.from_document(doc)

    async def remove(
        self, customer_id: str, sku: str, session: AsyncClientSession | None = None
    ) -> bool:
        """True if the SKU was there."""
        result = await self._collection.update_one(
            {"_id": customer_id, "items.sku": sku},
            {"$pull": {"items": {"sku": sku}}, "$set": {"updated_at": datetime.now(UTC)}},
            session=session,
        )
        return result.modified_count == 1
