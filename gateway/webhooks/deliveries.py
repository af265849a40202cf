"""Which vendor webhook deliveries were already applied, so a redelivery does nothing.

Vendors deliver at least once: Square retries with the same `event_id`, Shopify with the same
`X-Shopify-Webhook-Id`. One document per (vendor, delivery id), unique, removed by a TTL index
once `expires_at` passes; the retention outlives every vendor's retry schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]
COLLECTION = "webhook_deliveries"


class WebhookDeliveries:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("expires_at", expireAfterSeconds=0)
        await self._collection.create_index([("vendor", 1), ("delivery_id", 1)], unique=True)

    async def record(self, vendor: str, delivery_id: str, retention: timedelta) -> bool:
        """True if this delivery is new (and now recorded), False if it was seen before.
        Atomic across pods: the unique index decides which of two concurrent copies wins."""
        now = datetime.now(UTC)
        try:
            await self._collection.insert_one(
                {
                    "vendor": vendor,
                    "delivery_id": delivery_id,
                    "received_at": now,
                    "expires_at": now + retention,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def forget(self, vendor: str, delivery_id: str) -> None:
        """Undo `record` when applying the delivery failed, so the vendor's retry applies it."""
        await self._collection.delete_one({"vendor": vendor, "delivery_id": delivery_id})
