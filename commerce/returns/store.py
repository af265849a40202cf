"""The record of returns in MongoDB: one document per return (`returns`, keyed by the
idempotency key's hash) and one per order (`order_returns`: the units returned per SKU,
the money refunded, the points taken back, the units customers' open return requests hold
(`requests`: per request, its units and expiry; request_store.py), and a version).

A return is reserved in one transaction that inserts its document and moves the order's
counters on from the version it was priced against: two returns of the same line at once
cannot both take the last units (one commits, the other finds the version moved, prices
again and is refused), and a crash leaves either both writes or neither.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from commerce.returns.model import ReturnLine, ReturnRecord, ReturnState
from commerce.returns.request_model import RequestState
from commerce.transactions import in_transaction

Document = dict[str, Any]


REQUESTS = "return_requests"


class VersionMoved(Exception):
    """The order's counters changed since the return was priced: price it again."""


class RequestNotOpen(Exception):
    """The request a return would receive was received, cancelled or expired first."""


def return_id(key: str) -> str:
    return hashlib.sha256(f"return\0{key}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Hold:
    """The units one open return request holds, until it expires."""

    units: dict[str, int]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OrderReturns:
    """What earlier returns took back of one order, and what open requests hold."""

    order_id: str
    version: int = 0
    returned: dict[str, int] = field(default_factory=dict)
    refunded: Decimal = Decimal(0)
    points_back: int = 0
    holds: dict[str, Hold] = field(default_factory=dict)  # by request id

    @classmethod
    def from_document(cls, doc: Document | None, order_id: str) -> OrderReturns:
        if doc is None:
            return cls(order_id)
        return cls(
            order_id=order_id,
            version=doc["version"],
            returned={k: int(v) for k, v in doc.get("returned", {}).items()},
            refunded=Decimal(doc.get("refunded", "0")),
            points_back=int(doc.get("points_back", 0)),
            holds={
                request_id: Hold({k: int(v) for k, v in hold["units"].items()}, hold["expires_at"])
                for request_id, hold in doc.get("requests", {}).items()
            },
        )

    def held(self, now: datetime, but: str | None = None) -> dict[str, int]:
        """Units per SKU that open requests hold at `now`, but request `but`'s. A hold past
        its expiry holds nothing, whether or not the reconciler has removed it yet."""
        units: dict[str, int] = {}
        for request_id, hold in self.holds.items():
            if request_id != but and now < hold.expires_at:
                for sku, count in hold.units.items():
                    units[sku] = units.get(sku, 0) + count
        return units

    def left(
        self, ordered: dict[str, int], now: datetime, but: str | None = None
    ) -> dict[str, int]:
        """What is left to return (or to request) of each SKU ordered."""
        held = self.held(now, but)
        return {
            sku: units - self.returned.get(sku, 0) - held.get(sku, 0)
            for sku, units in ordered.items()
        }


class ReturnStore:
    def __init__(
        self, database: AsyncDatabase[Document], client: AsyncMongoClient[Document]
    ) -> None:
        self._returns = database["returns"]
        self._orders = database["order_returns"]
        self._requests = database[REQUESTS]
        self._client = client

    async def ensure_indexes(self) -> None:
        await self._returns.create_index([("order_id", 1), ("created_at", 1)])
        # the reconciler's question: what is not completed, oldest first
        await self._returns.create_index([("state", 1), ("created_at", 1)])

    async def get(self, record_id: str) -> tuple[ReturnRecord, str] | None:
        """The return and the fingerprint of the request that made it."""
        doc = await self._returns.find_one({"_id": record_id})
        return None if doc is None else (_record(doc), doc["fingerprint"])

    async def order(self, order_id: str) -> OrderReturns:
        return OrderReturns.from_document(await self._orders.find_one({"_id": order_id}), order_id)

    async def reserve(
        self,
        record: ReturnRecord,
        fingerprint: str,
        before: OrderReturns,
        staff_id: str | None,
        receiving: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Raises VersionMoved when another return of the order committed first, and
        DuplicateKeyError when a twin with the same key did. `receiving`: the open return
        request whose units this return takes over, marked RECEIVED and its hold turned
        into returned units in the same transaction (RequestNotOpen when it no longer is
        open at `now`)."""
        returned = dict(before.returned)
        for line in record.lines:
            returned[line.sku] = returned.get(line.sku, 0) + line.quantity
        doc = {
            "_id": record.id,
            "fingerprint": fingerprint,
            "order_id": record.order_id,
            "store_id": record.store_id,
            "staff_id": staff_id,
            "lines": [
                {"sku": line.sku, "quantity": line.quantity, "damaged": line.damaged}
                for line in record.lines
            ],
            "refund": str(record.refund),
            "currency": record.currency,
            "payment_id": record.payment_id,
            "state": record.state.value,
            "restocked": False,
            "points_not_recovered": 0,
            "created_at": datetime.now(UTC),
        }
        counters = {
            "returned": returned,
            "refunded": str(before.refunded + record.refund),
            "version": before.version + 1,
        }

        change: Document = {"$set": counters}
        if receiving is not None:
            change["$unset"] = {f"requests.{receiving}": ""}

        async def work(session: AsyncClientSession) -> None:
            if receiving is not None:
                await self._receive(receiving, record, now or datetime.now(UTC), session)
            await self._returns.insert_one(doc, session=session)
            if before.version == 0:
                # the first return of the order: a twin creating it too fails on the _id
                await self._orders.insert_one(
                    {"_id": record.order_id, "points_back": 0, **counters}, session=session
                )
                return
            moved = await self._orders.update_one(
                {"_id": record.order_id, "version": before.version}, change, session=session
            )
            if moved.matched_count == 0:
                raise VersionMoved(record.order_id)

        await in_transaction(self._client, work)

    async def _receive(
        self, request_id: str, record: ReturnRecord, now: datetime, session: AsyncClientSession
    ) -> None:
        received = await self._requests.update_one(
            {"_id": request_id, "state": RequestState.OPEN.value, "expires_at": {"$gt": now}},
            {
                "$set": {
                    "state": RequestState.RECEIVED.value,
                    "return_id": record.id,
                    "store_id": record.store_id,
                    "closed_at": now,
                }
            },
            session=session,
        )
        if received.matched_count == 0:
            raise RequestNotOpen(request_id)

    async def refunded(self, record_id: str, refund_id: str) -> None:
        await self._returns.update_one(
            {"_id": record_id, "state": ReturnState.RESERVED.value},
            {"$set": {"state": ReturnState.REFUNDED.value, "refund_id": refund_id}},
        )

    async def shop_recorded(self, record_id: str, shop_refund_id: str | None) -> None:
        await self._returns.update_one(
            {"_id": record_id},
            {"$set": {"shop_recorded": True, "shop_refund_id": shop_refund_id}},
        )

    async def restocked(self, record_id: str) -> None:
        await self._returns.update_one({"_id": record_id}, {"$set": {"restocked": True}})

    async def plan_points(
        self, record_id: str, order_id: str, due: int, balance: int, earned: int
    ) -> int:
        """The points this return takes back, fixed once (a retry takes what was planned):
        `due` capped by what the order earned less what earlier returns took back or wrote
        off (read in the transaction, so two returns at once cannot both take the same
        points), then by the account's `balance`; the rest is written off."""

        async def work(session: AsyncClientSession) -> int:
            doc = await self._returns.find_one({"_id": record_id}, session=session)
            assert doc is not None
            if "points_planned" in doc:
                return int(doc["points_planned"])
            counters = await self._orders.find_one({"_id": order_id}, session=session)
            back = int((counters or {}).get("points_back", 0))
            owed = max(0, min(due, earned - back))
            take = min(owed, max(0, balance))
            await self._returns.update_one(
                {"_id": record_id},
                {"$set": {"points_planned": take, "points_not_recovered": owed - take}},
                session=session,
            )
            await self._orders.update_one(
                {"_id": order_id}, {"$inc": {"points_back": owed}}, session=session
            )
            return take

        return await in_transaction(self._client, work)

    async def refund_refused(self, record_id: str) -> None:
        """Left to staff: the reconciler does not ask Square again."""
        await self._returns.update_one({"_id": record_id}, {"$set": {"refund_refused": True}})

    async def unfinished(self, older_than: datetime, limit: int) -> list[ReturnRecord]:
        """Returns a crash stopped and nobody retried, oldest first."""
        found = self._returns.find(
            {
                "state": {"$ne": ReturnState.COMPLETED.value},
                "refund_refused": {"$ne": True},
                "created_at": {"$lt": older_than},
            }
        )
        return [_record(doc) async for doc in found.sort("created_at", 1).limit(limit)]

    async def completed(self, record_id: str, points: int) -> None:
        await self._returns.update_one(
            {"_id": record_id},
            {"$set": {"state": ReturnState.COMPLETED.value, "points_taken_back": points}},
        )


def _record(doc: Document) -> ReturnRecord:
    return ReturnRecord(
        id=doc["_id"],
        order_id=doc["order_id"],
        store_id=doc["store_id"],
        lines=tuple(ReturnLine(li["sku"], li["quantity"], li["damaged"]) for li in doc["lines"]),
        refund=Decimal(doc["refund"]),
        currency=doc["currency"],
        payment_id=doc["payment_id"],
        state=ReturnState(doc["state"]),
        refund_id=doc.get("refund_id") or None,
        restocked=doc.get("restocked", False),
        shop_recorded=doc.get("shop_recorded", False),
        shop_refund_id=doc.get("shop_refund_id"),
        points_taken_back=doc.get("points_taken_back"),
        points_not_recovered=doc.get("points_not_recovered", 0),
    )
