"""The merged customer profile, cached in MongoDB with a TTL.

A document per customer: the merged profile as plain BSON, the time it was assembled and
when it expires. A TTL index removes expired documents; since the TTL monitor runs only
once a minute, reads also filter on `expires_at` so nothing past its TTL is ever served.
Signed vendor webhooks drop the profiles that hold a changed upstream id
(`invalidate_by_refs`), so the next read assembles them again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]
COLLECTION = "customer_profiles"


@dataclass(frozen=True, slots=True)
class CachedProfile:
    customer_id: str
    profile: Document
    fetched_at: datetime


class ProfileCache:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("expires_at", expireAfterSeconds=0)
        # Multikey: one entry per external ref, so a webhook finds its profiles by vendor id.
        await self._collection.create_index("profile.external_refs.id")
        await self._collection.create_index("profile.loyalty.account.id")

    async def get(self, customer_id: str) -> CachedProfile | None:
        now = datetime.now(UTC)
        document = await self._collection.find_one({"_id": customer_id, "expires_at": {"$gt": now}})
        if document is None:
            return None
        return CachedProfile(customer_id, document["profile"], document["fetched_at"])

    async def put(self, customer_id: str, profile: Document, ttl: timedelta) -> None:
        now = datetime.now(UTC)
        await self._collection.replace_one(
            {"_id": customer_id},
            {"profile": profile, "fetched_at": now, "expires_at": now + ttl},
            upsert=True,
        )

    async def delete(self, customer_id: str) -> None:
        await self._collection.delete_one({"_id": customer_id})

    async def invalidate_by_refs(self, system: str, ids: Collection[str]) -> int:
        """Drop every cached profile holding one of `ids` of `system`, as an external ref or
        as its loyalty account; expired or not. Returns how many were dropped."""
        if not ids:
            return 0
        wanted = sorted(set(ids))
        result = await self._collection.delete_many(
            {
                "$or": [
                    {
                        "profile.external_refs": {
                            "$elemMatch": {"system": system, "id": {"$in": wanted}}
                        }
                    },
                    {
                        "profile.loyalty.account.system": system,
                        "profile.loyalty.account.id": {"$in": wanted},
                    },
                ]
            }
        )
        return result.deleted_count
