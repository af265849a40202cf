"""Redemptions counted exactly once per checkout.

At checkout, in the MongoDB transaction that freezes the cart, every applied promotion with
a limit is reserved: the global counter (`promotions.redeemed`) and the customer's
(`promotion_usage.count`) each grow by one only if still under the limit (a conditional
update), and a `redemptions` record keyed by (checkout, promotion) says it was done, so a
retry of the same checkout reserves nothing twice. Concurrent checkouts touching the same
counter conflict inside MongoDB and the losing transaction is retried, so a limit of N
admits exactly N. The record becomes COMMITTED with the order, or RELEASED (the counters
going back down) when the upstream refuses it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from commerce.offers.conditions import OfferRefusal
from commerce.offers.promotions import PromotionStore, usage_id
from commerce.offers.rules import Promotion

Document = dict[str, Any]
COLLECTION = "redemptions"


class RedemptionState(StrEnum):
    RESERVED = "RESERVED"
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"


class RedemptionRefused(Exception):
    """A limit was reached between pricing and checkout: the checkout is refused."""

    def __init__(self, promotion: Promotion, reason: OfferRefusal) -> None:
        super().__init__(f"{promotion.id}: {reason}")
        self.promotion = promotion
        self.reason = reason


class Redemptions:
    def __init__(self, database: AsyncDatabase[Document], promotions: PromotionStore) -> None:
        self.collection: AsyncCollection[Document] = database[COLLECTION]
        self._promotions = promotions

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("checkout_id", 1), ("state", 1)])

    async def prepare(self, promotion_ids: Sequence[str], customer_id: str | None) -> None:
        """Outside the transaction: the customer's counters exist, so that the reservation
        is a plain conditional update (no upsert racing inside a transaction)."""
        if customer_id is None:
            return
        for pid in promotion_ids:
            # a concurrent twin may make it first
            with contextlib.suppress(DuplicateKeyError):
                await self._promotions.usage.update_one(
                    {"_id": usage_id(pid, customer_id)},
                    {"$setOnInsert": {"count": 0, "promotion_id": pid}},
                    upsert=True,
                )

    async def reserve(
        self,
        checkout_id: str,
        promotion_ids: Sequence[str],
        customer_id: str | None,
        session: AsyncClientSession,
    ) -> None:
        """Raises RedemptionRefused (aborting the caller's transaction) if a limit is full."""
        for pid in promotion_ids:
            record_id = f"{checkout_id}\0{pid}"
            existing = await self.collection.find_one({"_id": record_id}, session=session)
            if existing is not None and existing["state"] != RedemptionState.RELEASED:
                continue
            doc = await self._promotions.collection.find_one({"_id": pid}, session=session)
            if doc is None:
                continue  # withdrawn since pricing: nothing to count
            promotion = Promotion.from_document(doc)
            total = promotion.limits.total
            query: Document = {"_id": pid}
            if total is not None:
                query["redeemed"] = {"$lt": total}
            counted = await self._promotions.collection.update_one(
                query, {"$inc": {"redeemed": 1}}, session=session
            )
            if counted.modified_count != 1:
                raise RedemptionRefused(promotion, OfferRefusal.USAGE_LIMIT_REACHED)
            if customer_id is not None:
                mine: Document = {"_id": usage_id(pid, customer_id)}
                if promotion.limits.per_customer is not None:
                    mine["count"] = {"$lt": promotion.limits.per_customer}
                counted = await self._promotions.usage.update_one(
                    mine, {"$inc": {"count": 1}}, session=session
                )
                if counted.modified_count != 1 and promotion.limits.per_customer is not None:
                    raise RedemptionRefused(promotion, OfferRefusal.ALREADY_USED)
            await self.collection.replace_one(
                {"_id": record_id},
                {
                    "checkout_id": checkout_id,
                    "promotion_id": pid,
                    "customer_id": customer_id,
                    "state": RedemptionState.RESERVED.value,
                    "updated_at": datetime.now(UTC),
                },
                upsert=True,
                session=session,
            )

    async def commit(self, checkout_id: str, session: AsyncClientSession) -> None:
        await self.collection.update_many(
            {"checkout_id": checkout_id, "state": RedemptionState.RESERVED.value},
            {"$set": {"state": RedemptionState.COMMITTED.value, "updated_at": datetime.now(UTC)}},
            session=session,
        )

    async def release(self, checkout_id: str, session: AsyncClientSession) -> None:
        """The counters go back down, once per reservation."""
        reserved = await self.collection.find(
            {"checkout_id": checkout_id, "state": RedemptionState.RESERVED.value},
            session=session,
        ).to_list()
        for record in reserved:
            released = await self.collection.update_one(
                {"_id": record["_id"], "state": RedemptionState.RESERVED.value},
                {"$set": {"state": RedemptionState.RELEASED.value}},
                session=session,
            )
            if released.modified_count != 1:
                continue
            pid = record["promotion_id"]
            await self._promotions.collection.update_one(
                {"_id": pid}, {"$inc": {"redeemed": -1}}, session=session
            )
            if record.get("customer_id") is not None:
                await self._promotions.usage.update_one(
                    {"_id": usage_id(pid, record["customer_id"])},
                    {"$inc": {"count": -1}},
                    session=session,
                )

    async def committed_for(self, checkout_id: str) -> list[str]:
        found = self.collection.find(
            {"checkout_id": checkout_id, "state": RedemptionState.COMMITTED.value}
        )
        return [doc["promotion_id"] async for doc in found]
