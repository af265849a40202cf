"""Checkout attempts by idempotency key, in MongoDB (`checkouts`).

One document per (principal, key): `_id` is a hash of both, so one customer's key can
never collide with, or reveal, another's. It holds the cart and channel the key was first
used with, the order draft sent upstream (a retry must send the very same body for the
vendor's own idempotency to recognise it), and the outcome once known. Kept for
`retention`, then removed by a TTL index.

It is also the record of a paid checkout's steps (docs/payments.md), written before each
step's effect is relied on, so a retry or the reconciler knows where the attempt stands:
`payment_state` REQUESTED (the authorisation was sent; its answer may be lost),
AUTHORIZED (money held, `payment_id` known), CAPTURED (money taken) or VOIDED (released),
DECLINED; `order` once the order is placed and recorded; `paid` once the money is taken
(online: captured; in store: Square holds the POS order paid); `settled` once nothing is
left to do (money taken, points earned). The card token is kept only until the payment
is captured or the attempt recorded FAILED, then removed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from connectors.records import (
    Channel,
    ExternalRef,
    Money,
    OrderDraft,
    OrderLine,
    OrderLineDraft,
    OrderRecord,
    PickupState,
    System,
)

Document = dict[str, Any]
COLLECTION = "checkouts"


class CheckoutState(StrEnum):
    PENDING = "PENDING"  # draft stored; the upstream order may or may not exist yet
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # the upstream refused the order or the card; the cart was reopened


class PaymentState(StrEnum):
    """Where an online checkout's card payment stands (docs/payments.md)."""

    REQUESTED = "REQUESTED"  # the authorisation was sent; Square may or may not hold it
    AUTHORIZED = "AUTHORIZED"  # the money is held, not taken
    CAPTURED = "CAPTURED"  # the money is taken
    VOIDED = "VOIDED"  # the hold was released: the order was refused
    DECLINED = "DECLINED"  # the card was refused: no money moved


def checkout_id(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CheckoutRecord:
    id: str
    cart_id: str
    channel: str
    cart_version: int
    state: CheckoutState
    draft: OrderDraft
    order: OrderRecord | None
    failure_message: str | None
    # the offers engine's part: promotions to redeem, whose counters they are
    promotion_ids: tuple[str, ...] = ()
    customer_id: str | None = None
    # loyalty: the account, the points this attempt spends, the points the order earned
    loyalty_account_id: str | None = None
    loyalty_points: int = 0
    points_earned: int | None = None
    # the payment (online: a card token authorised, then captured; in store: the terminal)
    payment_token: str | None = None
    payment_key: str | None = None
    payment_state: PaymentState | None = None
    payment_id: str | None = None
    paid: bool = False
    settled: bool = False
    # why a FAILED attempt failed: ORDER_REJECTED or PAYMENT_DECLINED, and the vendor's reason
    failure_code: str | None = None
    failure_reason: str | None = None

    @classmethod
    def from_document(cls, doc: Document) -> CheckoutRecord:
        order = doc.get("order")
        state = doc.get("payment_state")
        return cls(
            id=doc["_id"],
            cart_id=doc["cart_id"],
            channel=doc["channel"],
            cart_version=doc["cart_version"],
            state=CheckoutState(doc["state"]),
            draft=draft_from_document(doc["draft"]),
            order=None if order is None else order_from_document(order),
            failure_message=doc.get("failure_message"),
            promotion_ids=tuple(doc.get("promotion_ids", ())),
            customer_id=doc.get("customer_id"),
            loyalty_account_id=doc.get("loyalty_account_id"),
            loyalty_points=doc.get("loyalty_points", 0),
            points_earned=doc.get("points_earned"),
            payment_token=doc.get("payment_token"),
            payment_key=doc.get("payment_key"),
            payment_state=None if state is None else PaymentState(state),
            payment_id=doc.get("payment_id"),
            paid=doc.get("paid", False),
            settled=doc.get("settled", False),
            failure_code=doc.get("failure_code"),
            failure_reason=doc.get("failure_reason"),
        )


class CheckoutStore:
    def __init__(self, database: AsyncDatabase[Document], retention: timedelta) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]
        self._retention = retention

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("expires_at", expireAfterSeconds=0)
        # the store order a Square payment webhook names
        await self._collection.create_index("order.ref.id", sparse=True)
        # what the reconciler looks for: attempts not settled, oldest first
        await self._collection.create_index(
            [("updated_at", 1)], partialFilterExpression={"settled": False}, name="unsettled"
        )

    async def get(self, record_id: str) -> CheckoutRecord | None:
        doc = await self._collection.find_one({"_id": record_id})
        return CheckoutRecord.from_document(doc) if doc else None

    async def start(
        self,
        record_id: str,
        cart_id: str,
        channel: str,
        cart_version: int,
        draft: OrderDraft,
        *,
        promotion_ids: tuple[str, ...] = (),
        customer_id: str | None = None,
        loyalty_account_id: str | None = None,
        loyalty_points: int = 0,
        payment_token: str | None = None,
        payment_key: str | None = None,
    ) -> CheckoutRecord | None:
        """Records a new attempt, and returns it as stored (no read back: the document is
        the one inserted); None if the key was taken first (by a concurrent retry)."""
        now = datetime.now(UTC)
        document: Document = {
            "_id": record_id,
            "cart_id": cart_id,
            "channel": channel,
            "cart_version": cart_version,
            "state": CheckoutState.PENDING.value,
            "draft": draft_to_document(draft),
            "promotion_ids": list(promotion_ids),
            "customer_id": customer_id,
            "loyalty_account_id": loyalty_account_id,
            "loyalty_points": loyalty_points,
            "payment_token": payment_token,
            "payment_key": payment_key,
            "paid": False,
            "settled": False,
            "created_at": now,
            "updated_at": now,
            "expires_at": now + self._retention,
        }
        try:
            await self._collection.insert_one(document)
        except DuplicateKeyError:
            return None
        return CheckoutRecord.from_document(document)

    async def abandon(self, record_id: str) -> None:
        """Drops a PENDING attempt that never reached the upstream (its cart moved on)."""
        await self._collection.delete_one({"_id": record_id, "state": CheckoutState.PENDING.value})

    async def complete(
        self,
        record_id: str,
        order: OrderRecord,
        session: AsyncClientSession,
        *,
        nothing_due: bool = False,
    ) -> None:
        """`nothing_due`: an online order with nothing to pay (points paid it all) is paid
        as it is placed."""
        fields: Document = {
            "state": CheckoutState.COMPLETED.value,
            "order": order_to_document(order),
            "updated_at": datetime.now(UTC),
        }
        if nothing_due:
            fields["paid"] = True
        await self._collection.update_one({"_id": record_id}, {"$set": fields}, session=session)

    async def mark_points_earned(self, record_id: str, points: int) -> None:
        await self._collection.update_one(
            {"_id": record_id, "points_earned": None}, {"$set": {"points_earned": points}}
        )

    async def fail(
        self,
        record_id: str,
        message: str,
        session: AsyncClientSession,
        *,
        code: str = "ORDER_REJECTED",
        reason: str | None = None,
    ) -> None:
        await self._collection.update_one(
            {"_id": record_id, "state": CheckoutState.PENDING.value},
            {
                "$set": {
                    "state": CheckoutState.FAILED.value,
                    "failure_message": message,
                    "failure_code": code,
                    "failure_reason": reason,
                    "settled": True,
                    "updated_at": datetime.now(UTC),
                },
                "$unset": {"payment_token": ""},
            },
            session=session,
        )

    async def payment_step(
        self, record_id: str, state: PaymentState, payment_id: str | None = None
    ) -> None:
        """Records a payment step before anything relies on it. A step never goes back:
        REQUESTED only over nothing, AUTHORIZED over REQUESTED, CAPTURED or VOIDED over
        AUTHORIZED; CAPTURED drops the card token."""
        before = {
            PaymentState.REQUESTED: [None],
            PaymentState.AUTHORIZED: [None, PaymentState.REQUESTED.value],
            PaymentState.DECLINED: [None, PaymentState.REQUESTED.value],
            PaymentState.CAPTURED: [PaymentState.AUTHORIZED.value],
            PaymentState.VOIDED: [PaymentState.AUTHORIZED.value],
        }[state]
        change: Document = {"$set": {"payment_state": state.value, "updated_at": datetime.now(UTC)}}
        if payment_id is not None:
            change["$set"]["payment_id"] = payment_id
        if state is PaymentState.CAPTURED:
            change["$set"]["paid"] = True
        if state is PaymentState.CAPTURED:
            # a declined or released payment keeps its token until the attempt is recorded
            # FAILED (`fail` drops it): a retry after a crash in between asks Square again
            # with the very same request and hears the same answer
            change["$unset"] = {"payment_token": ""}
        await self._collection.update_one(
            {"_id": record_id, "payment_state": {"$in": before}}, change
        )

    async def mark_paid(self, record_id: str) -> None:
        """A store order the POS says is paid (its terminal took the money)."""
        await self._collection.update_one(
            {"_id": record_id}, {"$set": {"paid": True, "updated_at": datetime.now(UTC)}}
        )

    async def mark_settled(self, record_id: str) -> None:
        await self._collection.update_one(
            {"_id": record_id},
            {"$set": {"settled": True, "updated_at": datetime.now(UTC)}},
        )

    async def by_order(self, order_id: str) -> CheckoutRecord | None:
        doc = await self._collection.find_one({"order.ref.id": order_id})
        return CheckoutRecord.from_document(doc) if doc else None

    async def unsettled(self, older_than: datetime, limit: int) -> list[CheckoutRecord]:
        """Attempts with something left to do, last touched before `older_than` (so a
        checkout still running in some pod is left to it), oldest first."""
        cursor = self._collection.find(
            {"settled": False, "updated_at": {"$lt": older_than}},
            sort=[("updated_at", 1)],
            limit=limit,
        )
        return [CheckoutRecord.from_document(doc) async for doc in cursor]


def _money(money: Money) -> Document:
    return {"amount": format(money.amount, "f"), "currency": money.currency}


def _money_from(doc: Document) -> Money:
    return Money(Decimal(doc["amount"]), doc["currency"])


def _ref(ref: ExternalRef) -> Document:
    return {"system": ref.system.value, "id": ref.id}


def _ref_from(doc: Document) -> ExternalRef:
    return ExternalRef(System(doc["system"]), doc["id"])


def draft_to_document(draft: OrderDraft) -> Document:
    # the payment is not part of the stored draft: it is added when the order is placed,
    # from the payment the attempt's step record names
    return {
        "idempotency_key": draft.idempotency_key,
        "customer_refs": [_ref(ref) for ref in draft.customer_refs],
        "lines": [
            {"sku": line.sku, "quantity": line.quantity, "unit_price": _money(line.unit_price)}
            for line in draft.lines
        ],
        "currency": draft.currency,
        "location_id": draft.location_id,
        "pickup": draft.pickup,
        "discount": None if draft.discount is None else _money(draft.discount),
        "note": draft.note,
    }


def draft_from_document(doc: Document) -> OrderDraft:
    discount = doc.get("discount")
    return OrderDraft(
        idempotency_key=doc["idempotency_key"],
        customer_refs=tuple(_ref_from(ref) for ref in doc["customer_refs"]),
        lines=tuple(
            OrderLineDraft(line["sku"], line["quantity"], _money_from(line["unit_price"]))
            for line in doc["lines"]
        ),
        currency=doc["currency"],
        location_id=doc.get("location_id"),
        pickup=doc["pickup"],
        discount=None if discount is None else _money_from(discount),
        note=doc.get("note"),
    )


def order_to_document(order: OrderRecord) -> Document:
    return {
        "ref": _ref(order.ref),
        "channel": order.channel.value,
        "created_at": order.created_at,
        "total": _money(order.total),
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "total": _money(line.total),
            }
            for line in order.lines
        ],
        "location_id": order.location_id,
        "customer_ref": None if order.customer_ref is None else _ref(order.customer_ref),
        "status": order.status,
        "number": order.number,
        "pickup": None if order.pickup is None else order.pickup.value,
    }


def order_from_document(doc: Document) -> OrderRecord:
    customer = doc.get("customer_ref")
    return OrderRecord(
        ref=_ref_from(doc["ref"]),
        channel=Channel(doc["channel"]),
        created_at=doc["created_at"],
        total=_money_from(doc["total"]),
        lines=tuple(
            OrderLine(
                sku=line.get("sku"),
                name=line["name"],
                quantity=line["quantity"],
                unit_price=_money_from(line["unit_price"]),
                total=_money_from(line["total"]),
            )
            for line in doc.get("lines", [])
        ),
        location_id=doc.get("location_id"),
        customer_ref=None if customer is None else _ref_from(customer),
        status=doc.get("status"),
        number=doc.get("number"),
        pickup=PickupState(doc["pickup"]) if doc.get("pickup") else None,
    )
