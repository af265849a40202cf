"""Offer sets in MongoDB: what a declared set concerns (read for `declared.plan`), its
plan written in one transaction, and the listing `omnigate offers list` prints.

`offer_sets` holds one document per set, `{_id: set name, segments: [...]}`: the segments
it owns (a promotion says its own set, `promotions.offer_set`). Segment memberships are
the engine's `customer_segments` (`{_id: customer id, segments: [...]}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from commerce.offers.declared import OFFER_SET, CurrentOffers, DeclaredOffers, OffersPlan
from commerce.offers.promotions import PromotionStore
from commerce.offers.rules import Promotion

Document = dict[str, Any]
OFFER_SETS = "offer_sets"


@dataclass(frozen=True, slots=True)
class ListedPromotion:
    promotion: Promotion
    offer_set: str | None
    redeemed: int


@dataclass(frozen=True, slots=True)
class ListedSegment:
    name: str
    offer_set: str | None
    members: int


class OfferSets:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._database = database
        self._store = PromotionStore(database)
        self.sets: AsyncCollection[Document] = database[OFFER_SETS]

    async def ensure_indexes(self) -> None:
        await self._store.ensure_indexes()
        await self._store.collection.create_index(OFFER_SET, sparse=True)
        await self._store.segments.create_index("segments")
        await self.sets.create_index("segments")

    async def current(self, declared: DeclaredOffers) -> CurrentOffers:
        ids = [p.id for p in declared.promotions]
        codes = [p.code for p in declared.promotions if p.code is not None]
        query = {"$or": [{"_id": {"$in": ids}}, {OFFER_SET: declared.set_name}]}
        promotions = {doc["_id"]: doc async for doc in self._store.collection.find(query)}
        holders = {
            doc["code"]: doc["_id"]
            async for doc in self._store.collection.find({"code": {"$in": codes}})
        }
        for pid in set(holders.values()) - promotions.keys():
            found = await self._store.collection.find_one({"_id": pid})
            if found is not None:
                promotions[pid] = found
        named = list(declared.segments)
        owners: dict[str, str] = {}
        async for doc in self.sets.find(
            {"$or": [{"_id": declared.set_name}, {"segments": {"$in": named}}]}
        ):
            for segment in doc.get("segments", []):
                if segment in declared.segments or doc["_id"] == declared.set_name:
                    owners[segment] = doc["_id"]
        concerned = set(named) | set(owners)
        members: dict[str, set[str]] = {segment: set() for segment in concerned}
        async for doc in self._store.segments.find({"segments": {"$in": list(concerned)}}):
            for segment in concerned.intersection(doc.get("segments", [])):
                members[segment].add(doc["_id"])
        return CurrentOffers(
            promotions=promotions,
            code_holders=holders,
            segment_owners=owners,
            members={segment: frozenset(ids) for segment, ids in members.items()},
        )

    async def apply(self, plan: OffersPlan) -> None:
        """Writes the plan in one transaction: all of it or, on a failure, none."""
        if plan.conflicts:
            raise ValueError("a plan with conflicts cannot be applied")
        if plan.empty:
            return
        async with self._database.client.start_session() as session:
            await session.with_transaction(lambda s: self._write(plan, s))

    async def _write(self, plan: OffersPlan, session: AsyncClientSession) -> None:
        promotions = self._store.collection
        if plan.released_codes:
            await promotions.update_many(
                {"code": {"$in": list(plan.released_codes)}},
                {"$unset": {"code": ""}},
                session=session,
            )
        for change in plan.promotions:
            update: Document = {
                "$set": change.document,
                "$setOnInsert": {"redeemed": 0},
            }
            if "code" not in change.document:
                update["$unset"] = {"code": ""}
            await promotions.update_one(
                {"_id": change.promotion_id}, update, upsert=True, session=session
            )
        for segment in plan.segments:
            if segment.removed:
                await self._store.segments.update_many(
                    {"_id": {"$in": sorted(segment.removed)}},
                    {"$pull": {"segments": segment.segment}},
                    session=session,
                )
            if segment.added:
                await self._store.segments.bulk_write(
                    [
                        UpdateOne(
                            {"_id": customer_id},
                            {"$addToSet": {"segments": segment.segment}},
                            upsert=True,
                        )
                        for customer_id in sorted(segment.added)
                    ],
                    session=session,
                )
        await self.sets.update_one(
            {"_id": plan.set_name},
            {"$set": {"segments": list(plan.owned_segments)}},
            upsert=True,
            session=session,
        )

    async def promotions(self, *, issued: bool = False) -> list[ListedPromotion]:
        """Every promotion, by id; those issued to one customer (vouchers, referral codes:
        one per customer) only with `issued`."""
        query: Document = {}
        if not issued:
            query = {"customer_id": None, "referrer_id": None}
        return [
            ListedPromotion(
                Promotion.from_document(doc), doc.get(OFFER_SET), doc.get("redeemed", 0)
            )
            async for doc in self._store.collection.find(query).sort("_id", 1)
        ]

    async def segments(self) -> list[ListedSegment]:
        """Every segment with at least one member or an owning set, by name."""
        counts: dict[str, int] = {}
        pipeline: list[Document] = [
            {"$unwind": "$segments"},
            {"$group": {"_id": "$segments", "members": {"$sum": 1}}},
        ]
        async for doc in await self._store.segments.aggregate(pipeline):
            counts[doc["_id"]] = doc["members"]
        owners = {
            segment: doc["_id"]
            async for doc in self.sets.find({})
            for segment in doc.get("segments", [])
        }
        return [
            ListedSegment(name, owners.get(name), counts.get(name, 0))
            for name in sorted(counts.keys() | owners.keys())
        ]
