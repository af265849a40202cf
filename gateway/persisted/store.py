"""The `persisted_queries` collection: operations by the SHA-256 of their text, with a small
LRU in front so a hit costs no MongoDB round trip.

    {_id: <sha256 hex>, query, registered, created_at,
     expires_at (APQ entries only), operation_names, source, registered_at (registered only)}

APQ writes entries with `registered: false` that expire `apq_ttl` after their last write (a
TTL index on `expires_at`); an operator's `omnigate persisted register` sets
`registered: true` and removes `expires_at`, so the safelist never expires, and APQ never
turns an entry into a registered one nor makes a registered one expire. A hash names one
text for ever, so a cached entry is never stale about the text; only `registered` can
change, and the safelist check asks MongoDB again for an entry cached as unregistered.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]
COLLECTION = "persisted_queries"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def query_hash(query: str) -> str:
    """What APQ clients send as `sha256Hash`: the hex SHA-256 of the UTF-8 text as sent."""
    return hashlib.sha256(query.encode()).hexdigest()


def is_sha256_hex(value: str) -> bool:
    return _SHA256_HEX.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class StoredOperation:
    query: str
    registered: bool


class PersistedQueryStore:
    def __init__(
        self, database: AsyncDatabase[Document], *, apq_ttl: timedelta, cache_size: int
    ) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]
        self._apq_ttl = apq_ttl
        self._cache_size = cache_size
        self._cache: OrderedDict[str, StoredOperation] = OrderedDict()

    async def ensure_indexes(self) -> None:
        # documents without `expires_at` (registered operations) never expire
        await self._collection.create_index("expires_at", expireAfterSeconds=0)

    def cached(self, sha256: str) -> StoredOperation | None:
        """This pod's memory only."""
        operation = self._cache.get(sha256)
        if operation is not None:
            self._cache.move_to_end(sha256)
        return operation

    async def find(self, sha256: str) -> StoredOperation | None:
        """MongoDB (the answer is cached). Raises PyMongoError."""
        if not is_sha256_hex(sha256):
            return None  # no text hashes to it: nothing to ask
        document = await self._collection.find_one(
            {"_id": sha256}, {"query": 1, "registered": 1, "expires_at": 1}
        )
        if document is None:
            return None
        registered = document.get("registered") is True
        expires_at = document.get("expires_at")
        # the TTL monitor runs once a minute: an entry past its time is gone already
        if not registered and expires_at is not None and expires_at <= datetime.now(UTC):
            return None
        operation = StoredOperation(str(document["query"]), registered)
        self._remember(sha256, operation)
        return operation

    async def save_automatic(self, sha256: str, query: str) -> bool:
        """An APQ registration: True if it was written, False if this pod knew it already.
        An operator's registration of the same text is left as it is. Raises PyMongoError."""
        if sha256 in self._cache:
            return False
        now = datetime.now(UTC)
        # DuplicateKeyError: a registered entry; the filter skipped it and the insert collided
        with contextlib.suppress(DuplicateKeyError):
            await self._collection.update_one(
                {"_id": sha256, "registered": {"$ne": True}},
                {
                    "$set": {"expires_at": now + self._apq_ttl},
                    "$setOnInsert": {"query": query, "registered": False, "created_at": now},
                },
                upsert=True,
            )
        self._remember(sha256, StoredOperation(query, registered=False))
        return True

    async def register(self, query: str, *, operation_names: list[str], source: str) -> str:
        """An operator's registration (the safelist): never expires. Its hash."""
        sha256 = query_hash(query)
        now = datetime.now(UTC)
        await self._collection.update_one(
            {"_id": sha256},
            {
                "$set": {
                    "query": query,
                    "registered": True,
                    "operation_names": operation_names,
                    "source": source,
                    "registered_at": now,
                },
                "$unset": {"expires_at": ""},
                "$setOnInsert": {"created_at": now},
            },
            upsert=True,
        )
        self._remember(sha256, StoredOperation(query, registered=True))
        return sha256

    def _remember(self, sha256: str, operation: StoredOperation) -> None:
        self._cache[sha256] = operation
        self._cache.move_to_end(sha256)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
