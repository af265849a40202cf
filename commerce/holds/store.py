"""Pickup holds in MongoDB (`stock_holds`): one document per (store, SKU).

Each document lists the carts holding that SKU at that store, `holds: [{cart_id, quantity,
expires_at}]`. A hold is taken by one conditional update of that document: its filter
sums the other carts' live holds on the server and matches only if the shelf count (read
from the inventory by the caller) still covers them plus this cart's quantity, and the
update replaces this cart's entry while dropping expired ones. MongoDB applies an update to
one document atomically and re-evaluates the filter after a write conflict, so of two carts
racing for the last unit, on any pods, exactly one matches; a cart's holds on several SKUs
are taken in one transaction (the caller's session), all or none.

Expiry: every hold carries `expires_at` (the server's `$$NOW` plus the TTL, renewed on each
change of the cart's holds); reads and the conditional ignore expired entries, and a TTL
index on the document's `expires_at` (the latest of its holds) deletes a document once
every hold in it has expired. The TTL monitor runs every 60 s, so reads never rely on it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from commerce.holds.model import HoldRefused, SkuHolds
from commerce.mongo_dates import utc

Document = dict[str, Any]
COLLECTION = "stock_holds"
# (store id, sku)
HoldKey = tuple[str, str]


def hold_id(store_id: str, sku: str) -> str:
    """Unambiguous whatever characters either id holds."""
    return json.dumps([store_id, sku], separators=(",", ":"))


def _others_live(cart_id: str) -> Document:
    """The document's live holds of every cart but `cart_id`, on the server's clock."""
    return {
        "$filter": {
            "input": {"$ifNull": ["$holds", []]},
            "cond": {
                "$and": [
                    {"$ne": ["$$this.cart_id", {"$literal": cart_id}]},
                    {"$gt": ["$$this.expires_at", "$$NOW"]},
                ]
            },
        }
    }


def _sum_quantities(holds: Document) -> Document:
    return {"$sum": {"$map": {"input": holds, "in": "$$this.quantity"}}}


class HoldStore:
    def __init__(self, database: AsyncDatabase[Document], ttl: timedelta) -> None:
        self.collection: AsyncCollection[Document] = database[COLLECTION]
        self._ttl_ms = int(ttl.total_seconds() * 1000)

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("sku")
        await self.collection.create_index("holds.cart_id")
        await self.collection.create_index("expires_at", expireAfterSeconds=0)

    # -- reads -----------------------------------------------------------------------------

    async def held(self, skus: Sequence[str]) -> dict[str, SkuHolds]:
        """The live holds on each SKU (absent: none)."""
        now = datetime.now(UTC)
        found: dict[str, dict[str, dict[str, int]]] = {}
        cursor = self.collection.find(
            {"sku": {"$in": list(dict.fromkeys(skus))}, "expires_at": {"$gt": now}},
            {"store_id": 1, "sku": 1, "holds": 1},
        )
        async for doc in cursor:
            carts = {
                hold["cart_id"]: hold["quantity"]
                for hold in doc.get("holds", ())
                if utc(hold["expires_at"]) > now
            }
            if carts:
                found.setdefault(doc["sku"], {})[doc["store_id"]] = carts
        return {sku: SkuHolds(by_store) for sku, by_store in found.items()}

    async def of_cart(
        self, cart_id: str, session: AsyncClientSession | None = None
    ) -> dict[HoldKey, int]:
        """What `cart_id` holds live, by (store, SKU)."""
        now = datetime.now(UTC)
        held: dict[HoldKey, int] = {}
        async for doc in self.collection.find({"holds.cart_id": cart_id}, session=session):
            for hold in doc.get("holds", ()):
                if hold["cart_id"] == cart_id and utc(hold["expires_at"]) > now:
                    held[(doc["store_id"], doc["sku"])] = hold["quantity"]
        return held

    # -- writes, in the caller's transaction -------------------------------------------------

    async def hold(
        self,
        session: AsyncClientSession,
        cart_id: str,
        store_id: str,
        quantities: Mapping[str, int],
        shelf: Mapping[str, int],
        checked: Collection[str],
    ) -> set[HoldKey]:
        """`cart_id` holds exactly `quantities` at `store_id` from now on, for the TTL, and
        nothing anywhere else. The SKUs in `checked` must fit on their `shelf` count beside
        the other carts' live holds, else HoldRefused (the caller's transaction rolls the
        whole change back); the others are set as they are (a lowered quantity, or one the
        store already held). Returns every (store, SKU) whose holds changed."""
        before = await self._keys_of(cart_id, session)
        wanted = {sku: quantity for sku, quantity in quantities.items() if quantity > 0}
        for sku, quantity in wanted.items():
            limit = shelf.get(sku, 0) if sku in checked else None
            await self._hold_one(session, cart_id, store_id, sku, quantity, limit)
        kept = {(store_id, sku) for sku in wanted}
        await self._pull(session, cart_id, before - kept)
        return before | kept

    async def release(self, session: AsyncClientSession | None, cart_id: str) -> set[HoldKey]:
        """`cart_id` holds nothing anywhere; the (store, SKU)s it held."""
        before = await self._keys_of(cart_id, session)
        await self._pull(session, cart_id, before)
        return before

    async def _hold_one(
        self,
        session: AsyncClientSession,
        cart_id: str,
        store_id: str,
        sku: str,
        quantity: int,
        shelf: int | None,
    ) -> None:
        doc_id = hold_id(store_id, sku)
        if shelf is not None and quantity > shelf:
            raise HoldRefused(store_id, sku, quantity, max(shelf, 0))
        await self.collection.update_one(
            {"_id": doc_id},
            {"$setOnInsert": {"store_id": store_id, "sku": sku, "holds": []}},
            upsert=True,
            session=session,
        )
        others = _others_live(cart_id)
        query: Document = {"_id": doc_id}
        if shelf is not None:
            query["$expr"] = {"$lte": [{"$add": [quantity, _sum_quantities(others)]}, shelf]}
        mine = {
            "cart_id": {"$literal": cart_id},
            "quantity": quantity,
            "expires_at": {"$add": ["$$NOW", self._ttl_ms]},
        }
        result = await self.collection.update_one(
            query,
            [
                {"$set": {"holds": {"$concatArrays": [others, [mine]]}}},
                {"$set": {"expires_at": {"$max": "$holds.expires_at"}}},
            ],
            session=session,
        )
        if result.matched_count == 0:
            assert shelf is not None
            current = await self.collection.find_one({"_id": doc_id}, session=session)
            now = datetime.now(UTC)
            held = sum(
                hold["quantity"]
                for hold in (current or {}).get("holds", ())
                if hold["cart_id"] != cart_id and utc(hold["expires_at"]) > now
            )
            raise HoldRefused(store_id, sku, quantity, max(shelf - held, 0))

    async def _keys_of(self, cart_id: str, session: AsyncClientSession | None) -> set[HoldKey]:
        cursor = self.collection.find(
            {"holds.cart_id": cart_id}, {"store_id": 1, "sku": 1}, session=session
        )
        return {(doc["store_id"], doc["sku"]) async for doc in cursor}

    async def _pull(
        self, session: AsyncClientSession | None, cart_id: str, keys: Iterable[HoldKey]
    ) -> None:
        ids = [hold_id(store_id, sku) for store_id, sku in keys]
        if ids:
            await self.collection.update_many(
                {"_id": {"$in": ids}}, {"$pull": {"holds": {"cart_id": cart_id}}}, session=session
            )
