"""The audit log: one document per staff read of a customer's data, one per staff search
for customers, and one per staff action on an after-sales request, in `audit_log`.

Written before the data is fetched, so a read that then fails upstream is still on record,
and awaited: when MongoDB cannot take the entry the read fails rather than go unrecorded.
Kept without a TTL: how long to keep it is the retailer's policy (docs/security.md).
"""

from __future__ import annotations

import hashlib
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
class CustomerSearchRecord:
    """A staff search: by what (`key`: EMAIL, PHONE, LOYALTY_CARD, POS_CUSTOMER_ID), the
    term normalised (a lower-case email, an E.164 phone, an id), and the operation."""

    key: str
    term: str
    operation_name: str | None
    operation_type: str
    path: str
    fields: Sequence[str]


def masked(key: str, term: str) -> str:
    """Enough of a search term for a person reading the log to tell searches apart, not
    enough to contact anyone: an email's first letter and domain, a phone's or an id's
    last two characters."""
    if key == "EMAIL":
        local, _, domain = term.partition("@")
        return f"{local[:1]}***@{domain}"
    return "*" * max(0, len(term) - 2) + term[-2:]


def term_digest(key: str, term: str) -> str:
    """SHA-256 of the key and the normalised term: who searched for this email or phone is
    answered by hashing it the same way and querying `search.sha256`, without the log
    holding the term. Not a secret: a phone number's digest can be found by trying every
    number, so the log stays as protected as the data it describes (docs/security.md)."""
    return hashlib.sha256(f"{key}:{term}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OrderRead:
    """A staff look-up of one order: by its id or by its number, and where in the operation."""

    order_id: str | None
    number: str | None
    operation_name: str | None
    operation_type: str
    path: str


@dataclass(frozen=True, slots=True)
class AfterSalesAction:
    """A staff action on an after-sales request: `after_sales.open` for a customer, or
    `after_sales.status` of a request (its CRM id and the status set)."""

    action: str
    customer_id: str | None
    request_id: str | None = None
    status: str | None = None


class AuditLog:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]

    async def ensure_indexes(self) -> None:
        # "who read this customer" and "what did this staff member read", newest first
        await self._collection.create_index([("customer_id", 1), ("at", -1)])
        await self._collection.create_index([("actor.id", 1), ("at", -1)])

    async def customer_read(self, actor: Principal, read: CustomerRead) -> None:
        await self._record(self._entry(actor, read), "read")

    async def customer_search(self, actor: Principal, search: CustomerSearchRecord) -> None:
        await self._record(self._search_entry(actor, search), "search")

    async def order_read(self, actor: Principal, read: OrderRead) -> None:
        await self._record(
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
            },
            "read",
        )

    async def after_sales(self, actor: Principal, done: AfterSalesAction) -> None:
        await self._record(
            {
                "at": datetime.now(UTC),
                "action": done.action,
                "actor": _actor(actor),
                "customer_id": done.customer_id,
                "request": {"id": done.request_id, "status": done.status},
            },
            "change",
        )

    async def _record(self, entry: Document, what: str) -> None:
        """The entry written before what it audits is done; if it cannot be, that is not
        done either."""
        try:
            await self._collection.insert_one(entry)
        except PyMongoError as exc:
            raise AuditUnavailable(
                f"The {what} cannot be audited right now, so it is not made; retry shortly.",
                service="mongodb",
            ) from exc

    @staticmethod
    def _search_entry(actor: Principal, search: CustomerSearchRecord) -> Document:
        return {
            "at": datetime.now(UTC),
            "action": "customer.search",
            "actor": _actor(actor),
            "search": {
                "key": search.key,
                "masked": masked(search.key, search.term),
                "sha256": term_digest(search.key, search.term),
            },
            "operation": {
                "name": search.operation_name,
                "type": search.operation_type,
                "path": search.path,
            },
            "fields": list(search.fields),
        }

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
