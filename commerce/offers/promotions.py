"""Promotions in MongoDB (`promotions`) and the customer segments they may target
(`customer_segments`: `{_id: customer id, segments: [...]}`, written by marketing tools or
by the engine itself, e.g. CART_ABANDONED)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from commerce.offers.conditions import Usage
from commerce.offers.rules import Promotion

Document = dict[str, Any]
PROMOTIONS = "promotions"
USAGE = "promotion_usage"
SEGMENTS = "customer_segments"


def usage_id(promotion_id: str, customer_id: str) -> str:
    return f"{promotion_id}\0{customer_id}"


class PromotionStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = database[PROMOTIONS]
        self.usage: AsyncCollection[Document] = database[USAGE]
        self.segments: AsyncCollection[Document] = database[SEGMENTS]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("code", unique=True, sparse=True)
        await self.collection.create_index([("active", 1), ("code", 1)])
        await self.collection.create_index("customer_id", sparse=True)
        # one referral code per customer
        await self.collection.create_index(
            "referrer_id",
            unique=True,
            partialFilterExpression={"referrer_id": {"$type": "string"}},
        )

    async def put(self, promotion: Promotion) -> None:
        """Creates or replaces the rule; its redemption count is kept."""
        await self.collection.update_one(
            {"_id": promotion.id},
            {"$set": promotion.to_document(), "$setOnInsert": {"redeemed": 0}},
            upsert=True,
        )
        if promotion.code is None:
            await self.collection.update_one({"_id": promotion.id}, {"$unset": {"code": ""}})

    async def put_new(self, promotion: Promotion) -> bool:
        """Creates the rule unless it exists (issued vouchers are never rewritten)."""
        result = await self.collection.update_one(
            {"_id": promotion.id},
            {"$setOnInsert": {**promotion.to_document(), "redeemed": 0}},
            upsert=True,
        )
        return result.upserted_id is not None

    async def find(self, query: Document) -> list[Promotion]:
        return [Promotion.from_document(doc) async for doc in self.collection.find(query)]

    async def by_codes(self, codes: Sequence[str]) -> dict[str, Promotion]:
        if not codes:
            return {}
        found = self.collection.find({"code": {"$in": list(codes)}})
        return {doc["code"]: Promotion.from_document(doc) async for doc in found}

    async def automatic(self) -> list[Promotion]:
        found = self.collection.find({"active": True, "code": {"$exists": False}})
        return [Promotion.from_document(doc) async for doc in found]

    async def get(self, promotion_id: str) -> Promotion | None:
        doc = await self.collection.find_one({"_id": promotion_id})
        return Promotion.from_document(doc) if doc else None

    async def usage_of(
        self, promotions: Sequence[Promotion], customer_id: str | None
    ) -> dict[str, Usage]:
        """Redemptions counted so far (reserved and committed), overall and by this customer."""
        ids = [p.id for p in promotions if p.limits.total or p.limits.per_customer]
        if not ids:
            return {}
        totals = {
            doc["_id"]: doc.get("redeemed", 0)
            async for doc in self.collection.find({"_id": {"$in": ids}}, {"redeemed": 1})
        }
        mine: dict[str, int] = {}
        if customer_id is not None:
            keys = {usage_id(pid, customer_id): pid for pid in ids}
            async for doc in self.usage.find({"_id": {"$in": list(keys)}}):
                mine[keys[doc["_id"]]] = doc.get("count", 0)
        return {pid: Usage(totals.get(pid, 0), mine.get(pid, 0)) for pid in ids}

    async def segments_of(self, customer_id: str) -> frozenset[str]:
        doc = await self.segments.find_one({"_id": customer_id})
        return frozenset(doc.get("segments", [])) if doc else frozenset()

    async def add_segment(self, customer_id: str, segment: str) -> None:
        await self.segments.update_one(
            {"_id": customer_id}, {"$addToSet": {"segments": segment}}, upsert=True
        )
