"""Named leases in MongoDB: which of the gateway processes runs a singleton job right now.

One document per job, `{_id: name, holder, until}`. `acquire` is one atomic upsert that
matches only a lease that has run out or is already the caller's; a live lease of another
holder makes the upsert try to insert the same `_id`, which the unique `_id` index refuses.
So exactly one process holds a lease at a time, renews it by acquiring it again, and if it
dies another takes over once `until` passes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]
COLLECTION = "leases"


class Leases:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease `name` for `ttl`; False while another holder has it."""
        now = datetime.now(UTC)
        try:
            await self._collection.update_one(
                {"_id": name, "$or": [{"until": {"$lte": now}}, {"holder": holder}]},
                {"$set": {"holder": holder, "until": now + ttl}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up early (at shutdown), if it is still ours."""
        await self._collection.delete_one({"_id": name, "holder": holder})

    async def holder(self, name: str) -> str | None:
        """Who holds the lease now, if anyone."""
        document = await self._collection.find_one(
            {"_id": name, "until": {"$gt": datetime.now(UTC)}}
        )
        return None if document is None else str(document["holder"])
