"""The audit log: one document per staff read of a customer's data, in `audit_log`.

Written before the data is fetched, so a read that then fails upstream is still on record,
and awaited: when MongoDB cannot take the entry the read fails rather than go unrecorded.
Kept without a TTL: how long to keep it is the retailer's policy (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from commerce.errors import FieldRefusal
from commerce.principal import Principal

Document = dict[str, Any]
COLLECTION = "audit_log"


class AuditUnavailable(FieldRefusal):
    code = "UPSTREAM_UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class CustomerRead:
    """What was asked about whom: the operation and the customer fields selected."""

    customer_id: str
    operation_name: str | None
    operation_type: str
    path: str
    fields: Sequence[str]


@dataclass(frozen=True, slots=True)
class OrderRead:
    """A staff look-up of one order: by its id or by its number, and where in the operation."""

    order_id: str | None
    number: str | None
    operation_name: str | None
    operation_type: str
    path: str


class AuditLog:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]

    async def ensure_indexes(self) -> None:
        # "who read this customer" and "what did this staff member read", newest first
        await self._collection.create_index([("customer_id", 1), ("at", -1)])
        await self._collection.create_index([("actor.id", 1), ("at", -1)])

    async def customer_read(self, actor: Principal, read: CustomerRead) -> None:
        try:
            await self._collection.insert_one(self._entry(actor, read))
        except PyMongoError as exc:
            raise AuditUnavailable(
                "The read cannot be audited right now, so it is not made; retry shortly.",
                service="mongodb",
            ) from exc

    async def order_read(self, actor: Principal, read: OrderRead) -> None:
        try:
            await self._collection.insert_one(
                {
                    "at": datetime.now(UTC),
                    "action": "order.read",
                    "actor": _actor(actor),
                    "order": {"id": read.order_id, "number": read.number},
                    "operation": {
                        "name": read.operation_name,
                        "type": read.operation_type,
                        "path": read.path,
                    },
                }
            )
        except PyMongoError as exc:
            raise AuditUnavailable(
                "The read cannot be audited right now, so it is not made; retry shortly.",
                service="mongodb",
            ) from exc

    @staticmethod
    def _entry(actor: Principal, read: CustomerRead) -> Document:
        return {
            "at": datetime.now(UTC),
            "action": "customer.read",
            "actor": _actor(actor),
            "customer_id": read.customer_id,
            "operation": {
                "name": read.operation_name,
                "type": read.operation_type,
                "path": read.path,
            },
            "fields": list(read.fields),
        }


def _actor(actor: Principal) -> Document:
    return {"kind": actor.kind.value, "id": actor.subject, "store_id": actor.store_id}
