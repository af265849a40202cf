"""Kiosk hand-off: a signed-in customer lends their identity to one kiosk for a few minutes.

The customer's app asks for a hand-off for one store (`kioskHandoffCreate`) and shows it to
the kiosk (a QR code, say); the kiosk sends it in `X-Handoff-Token` along with its own
device token. The first kiosk of that store to present it claims it: from then on only that
device may use it, until it expires. Only a SHA-256 of the token is stored, so a copy of
the collection lets no one act as the customer; a TTL index removes expired hand-offs.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]
COLLECTION = "kiosk_handoffs"
# secrets.token_urlsafe(32) is 43 characters; anything much longer is not ours
MAX_TOKEN_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Handoff:
    token: str
    customer_id: str
    store_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RedeemedHandoff:
    customer_id: str
    expires_at: datetime


class KioskHandoffs:
    def __init__(self, database: AsyncDatabase[Document], ttl: timedelta) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]
        self.ttl = ttl

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("expires_at", expireAfterSeconds=0)

    async def create(self, customer_id: str, store_id: str) -> Handoff:
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires_at = now + self.ttl
        await self._collection.insert_one(
            {
                "_id": _digest(token),
                "customer_id": customer_id,
                "store_id": store_id,
                "device_id": None,
                "created_at": now,
                "expires_at": expires_at,
            }
        )
        return Handoff(token, customer_id, store_id, expires_at)

    async def redeem(self, token: str, *, store_id: str, device_id: str) -> RedeemedHandoff | None:
        """The hand-off's customer if `token` is live, for `store_id`, and unclaimed or
        claimed by `device_id` (which then holds it); None otherwise."""
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        found = await self._collection.find_one_and_update(
            {
                "_id": _digest(token),
                "store_id": store_id,
                # the TTL monitor runs once a minute: expiry is checked here, not left to it
                "expires_at": {"$gt": datetime.now(UTC)},
                "device_id": {"$in": [None, device_id]},
            },
            {"$set": {"device_id": device_id}},
        )
        if found is None:
            return None
        return RedeemedHandoff(found["customer_id"], found["expires_at"])


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
