"""The claim on a request's idempotency key, in MongoDB (`after_sales_keys`).

The CRM holds the request itself; omnigate keeps only what makes a retry safe: the key
(hashed with the customer's id), the fingerprint of what was asked under it, and the CRM's
id once it is known. A claim without an id is a request whose opening failed or was cut
short: invisible to everyone (the CRM has nothing, or the upsert by the same key finds the
one it made), settled by the retry with the same key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]
COLLECTION = "after_sales_keys"


def request_key(customer_id: str, key: str) -> str:
    """The CRM's external id for a request: one customer's key never meets another's."""
    return "og-" + hashlib.sha256(f"after-sales\0{customer_id}\0{key}".encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Claim:
    key: str
    fingerprint: str
    request_id: str | None  # the CRM's id, once the request is opened


class ClaimStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._claims = database[COLLECTION]

    async def claim(self, key: str, fingerprint: str, customer_id: str, actor: str) -> Claim:
        """The key's claim: this request's, or the one an earlier call with the key made."""
        try:
            await self._claims.insert_one(
                {
                    "_id": key,
                    "fingerprint": fingerprint,
                    "customer_id": customer_id,
                    "actor": actor,
                    "at": datetime.now(UTC),
                    "request_id": None,
                }
            )
        except DuplicateKeyError:
            found = await self._claims.find_one({"_id": key})
            if found is not None:
                return Claim(key, found["fingerprint"], found.get("request_id"))
        return Claim(key, fingerprint, None)

    async def opened(self, key: str, request_id: str) -> None:
        await self._claims.update_one({"_id": key}, {"$set": {"request_id": request_id}})
