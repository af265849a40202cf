"""Customers' return requests in MongoDB (`return_requests`, keyed by the hash of the
customer and her idempotency key) and the units each open one holds on its order's
counters (`order_returns.requests`, store.py).

Opening inserts the request and adds its hold to the order's counters, moved on from the
version the request was checked against, in one transaction: two requests (or a request and
a staff return) of the last unit at once cannot both take it, and a crash leaves both
writes or neither. Cancelling or expiring closes the request and removes its hold in one
transaction too; receiving it is the return's own transaction (store.py `reserve`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from commerce.returns.request_model import (
    RequestLine,
    RequestState,
    ReturnMethod,
    ReturnReason,
    ReturnRequestRecord,
)
from commerce.returns.store import REQUESTS, OrderReturns, VersionMoved
from commerce.transactions import in_transaction

Document = dict[str, Any]
# the newest a customer's list shows
LISTED = 100


def request_id(customer_id: str, key: str) -> str:
    """One customer's key never meets another's."""
    return hashlib.sha256(f"return-request\0{customer_id}\0{key}".encode()).hexdigest()


class RequestStore:
    def __init__(
        self, database: AsyncDatabase[Document], client: AsyncMongoClient[Document]
    ) -> None:
        self._requests = database[REQUESTS]
        self._orders = database["order_returns"]
        self._client = client

    async def ensure_indexes(self) -> None:
        await self._requests.create_index([("customer_id", 1), ("created_at", -1)])
        await self._requests.create_index([("order_id", 1), ("created_at", -1)])
        # the expiry pass's question: what is open past its expiry
        await self._requests.create_index([("state", 1), ("expires_at", 1)])

    async def get(self, record_id: str) -> tuple[ReturnRequestRecord, str] | None:
        """The request and the fingerprint of what was asked under its key."""
        doc = await self._requests.find_one({"_id": record_id})
        return None if doc is None else (_record(doc), doc["fingerprint"])

    async def of_customer(self, customer_id: str) -> list[ReturnRequestRecord]:
        found = self._requests.find({"customer_id": customer_id}).sort("created_at", -1)
        return [_record(doc) async for doc in found.limit(LISTED)]

    async def of_orders(self, order_ids: Sequence[str]) -> dict[str, list[ReturnRequestRecord]]:
        """Each order's requests, newest first (at most LISTED of each)."""
        found: dict[str, list[ReturnRequestRecord]] = {order_id: [] for order_id in order_ids}
        cursor = self._requests.find({"order_id": {"$in": list(order_ids)}})
        async for doc in cursor.sort("created_at", -1):
            listed = found[doc["order_id"]]
            if len(listed) < LISTED:
                listed.append(_record(doc))
        return found

    async def open(
        self, record: ReturnRequestRecord, fingerprint: str, before: OrderReturns
    ) -> None:
        """Raises VersionMoved when a return or another request of the order committed
        since `before` was read, and DuplicateKeyError when a twin with the same key did."""
        doc = {
            "_id": record.id,
            "fingerprint": fingerprint,
            "customer_id": record.customer_id,
            "order_id": record.order_id,
            "lines": [{"sku": li.sku, "quantity": li.quantity} for li in record.lines],
            "reason": record.reason.value,
            "method": record.method.value,
            "state": record.state.value,
            "created_at": record.created_at,
            "expires_at": record.expires_at,
        }

        async def work(session: AsyncClientSession) -> None:
            await self._requests.insert_one(doc, session=session)
            await self._hold(record, before, session)

        await in_transaction(self._client, work)

    async def _hold(
        self, record: ReturnRequestRecord, before: OrderReturns, session: AsyncClientSession
    ) -> None:
        units: dict[str, int] = {}
        for line in record.lines:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
        hold = {"units": units, "expires_at": record.expires_at}
        if before.version == 0:
            # the order's first return or request: a twin creating it too fails on the _id
            await self._orders.insert_one(
                {
                    "_id": record.order_id,
                    "version": 1,
                    "returned": {},
                    "refunded": "0",
                    "points_back": 0,
                    "requests": {record.id: hold},
                },
                session=session,
            )
            return
        moved = await self._orders.update_one(
            {"_id": record.order_id, "version": before.version},
            {"$set": {f"requests.{record.id}": hold, "version": before.version + 1}},
            session=session,
        )
        if moved.matched_count == 0:
            raise VersionMoved(record.order_id)

    async def close(
        self, record_id: str, state: RequestState, now: datetime
    ) -> ReturnRequestRecord | None:
        """An open request CANCELLED (while it has not expired) or EXPIRED (once it has),
        its hold removed from the order's counters in the same transaction; None when it
        was not open (or, to cancel, already expired; to expire, not yet)."""
        due = {"$gt": now} if state is RequestState.CANCELLED else {"$lte": now}

        async def work(session: AsyncClientSession) -> ReturnRequestRecord | None:
            doc = await self._requests.find_one_and_update(
                {"_id": record_id, "state": RequestState.OPEN.value, "expires_at": due},
                {"$set": {"state": state.value, "closed_at": now}},
                session=session,
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                return None
            await self._orders.update_one(
                {"_id": doc["order_id"], f"requests.{record_id}": {"$exists": True}},
                {"$unset": {f"requests.{record_id}": ""}, "$inc": {"version": 1}},
                session=session,
            )
            return _record(doc)

        return await in_transaction(self._client, work)

    async def expired(self, now: datetime, limit: int) -> list[str]:
        """Open requests past their expiry, oldest first."""
        found = self._requests.find(
            {"state": RequestState.OPEN.value, "expires_at": {"$lte": now}}, {"_id": 1}
        )
        return [doc["_id"] async for doc in found.sort("expires_at", 1).limit(limit)]


def _record(doc: Document) -> ReturnRequestRecord:
    return ReturnRequestRecord(
        id=doc["_id"],
        customer_id=doc["customer_id"],
        order_id=doc["order_id"],
        lines=tuple(RequestLine(li["sku"], li["quantity"]) for li in doc["lines"]),
        reason=ReturnReason(doc["reason"]),
        method=ReturnMethod(doc["method"]),
        state=RequestState(doc["state"]),
        created_at=doc["created_at"],
        expires_at=doc["expires_at"],
        closed_at=doc.get("closed_at"),
        return_id=doc.get("return_id"),
        store_id=doc.get("store_id"),
    )
