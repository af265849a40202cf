"""Events out for marketing automation, through an outbox in MongoDB (`outbox`).

An event is written once (its id is derived from what happened, so a repeat is a no-op)
and delivered by the dispatcher (dispatcher.py) to every configured webhook URL: a POST
of `{"id", "type", "createdAt", "data"}` with

    X-Omnigate-Event-Id: <id>
    X-Omnigate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

A receiver recomputes the HMAC over the timestamp and the raw body and may refuse old
timestamps (replays). A non-2xx answer or no answer is retried with exponential backoff
until `webhook_max_attempts`, then the event is FAILED (kept for an operator).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]
COLLECTION = "outbox"
SIGNATURE_HEADER = "X-Omnigate-Signature"
EVENT_ID_HEADER = "X-Omnigate-Event-Id"


class EventType(StrEnum):
    CART_ABANDONED = "CART_ABANDONED"
    ORDER_PLACED = "ORDER_PLACED"
    POINTS_CHANGED = "POINTS_CHANGED"


class DeliveryState(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes) -> bool:
    """For receivers (and tests): the header's HMAC matches the body."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        expected = signature(secret, int(parts["t"]), body)
    except (KeyError, ValueError):
        return False
    return hmac.compare_digest(expected, header)


class Outbox:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = database[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("state", 1), ("next_attempt_at", 1)])

    async def emit(self, event_id: str, event_type: EventType, data: Document) -> bool:
        """Records the event once; False if it was already recorded."""
        now = datetime.now(UTC)
        try:
            await self.collection.insert_one(
                {
                    "_id": event_id,
                    "type": event_type.value,
                    "data": data,
                    "created_at": now,
                    "state": DeliveryState.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "delivered_to": [],
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def claim_due(self, now: datetime, lease: timedelta) -> Document | None:
        """One due event, leased to this dispatcher (another pod skips it meanwhile)."""
        return await self.collection.find_one_and_update(
            {"state": DeliveryState.PENDING.value, "next_attempt_at": {"$lte": now}},
            {"$set": {"next_attempt_at": now + lease}},
            sort=[("next_attempt_at", 1)],
            return_document=ReturnDocument.AFTER,
        )

    async def delivered(self, event_id: str, url: str) -> None:
        await self.collection.update_one({"_id": event_id}, {"$addToSet": {"delivered_to": url}})

    async def settle(
        self, event_id: str, *, done: bool, retry_at: datetime | None, error: str | None
    ) -> None:
        """Every URL answered (DELIVERED), or try again at `retry_at` (None: FAILED)."""
        if done:
            update: Document = {"state": DeliveryState.DELIVERED.value}
        elif retry_at is None:
            update = {"state": DeliveryState.FAILED.value, "last_error": error}
        else:
            update = {"next_attempt_at": retry_at, "last_error": error}
        await self.collection.update_one(
            {"_id": event_id},
            {"$set": {**update, "updated_at": datetime.now(UTC)}, "$inc": {"attempts": 1}},
        )
