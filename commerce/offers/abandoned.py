"""Abandoned carts: a customer's open cart with lines, untouched for the idle time.

One cart is shared by all the customer's devices, so a cart is one abandonment whatever
device last touched it; a marker (`cart_abandonment`, the cart version flagged) makes the
scan find it once per idle period across every pod. For each the engine issues one
personal, time-limited offer (a code for that customer only, valid for
`abandoned_offer_valid_hours`), puts the customer in the CART_ABANDONED segment, and
writes a CART_ABANDONED event carrying the lines and the offer's code.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from commerce.offers.outbox import EventType, Outbox
from commerce.offers.promotions import PromotionStore
from commerce.offers.rules import Conditions, Limits, OfferKind, Promotion

Document = dict[str, Any]
MARKERS = "cart_abandonment"
SEGMENT = "CART_ABANDONED"
BATCH = 100


class AbandonedCarts:
    def __init__(
        self,
        database: AsyncDatabase[Document],
        carts: AsyncCollection[Document],
        outbox: Outbox,
        promotions: PromotionStore,
        *,
        idle: timedelta,
        offer_percent: Decimal,
        offer_valid: timedelta,
    ) -> None:
        self._markers: AsyncCollection[Document] = database[MARKERS]
        self._carts = carts
        self._outbox = outbox
        self._promotions = promotions
        self._idle = idle
        self._offer_percent = offer_percent
        self._offer_valid = offer_valid

    async def scan(self) -> int:
        """Flags the carts newly abandoned; how many."""
        now = datetime.now(UTC)
        pipeline: list[Document] = [
            {
                "$match": {
                    "status": "OPEN",
                    "customer_id": {"$type": "string"},
                    "lines.0": {"$exists": True},
                    "updated_at": {"$lte": now - self._idle},
                }
            },
            {"$lookup": {"from": MARKERS, "localField": "_id", "foreignField": "_id", "as": "m"}},
            {"$match": {"$expr": {"$ne": [{"$first": "$m.version"}, "$version"]}}},
            {"$limit": BATCH},
        ]
        found = await (await self._carts.aggregate(pipeline)).to_list()
        flagged = 0
        for cart in found:
            if await self._flag(cart, now):
                flagged += 1
        return flagged

    async def _flag(self, cart: Document, now: datetime) -> bool:
        try:
            marked = await self._markers.update_one(
                {"_id": cart["_id"], "version": {"$ne": cart["version"]}},
                {"$set": {"version": cart["version"], "flagged_at": now}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # another pod flagged this version first
        if marked.modified_count == 0 and marked.upserted_id is None:
            return False
        customer_id = cart["customer_id"]
        offer = await self._offer(cart["_id"], customer_id, now)
        await self._promotions.add_segment(customer_id, SEGMENT)
        await self._outbox.emit(
            f"cart-abandoned:{cart['_id']}:{cart['version']}",
            EventType.CART_ABANDONED,
            {
                "cartId": cart["_id"],
                "customerId": customer_id,
                "cartVersion": cart["version"],
                "lines": [{"sku": ln["sku"], "quantity": ln["quantity"]} for ln in cart["lines"]],
                "offer": {
                    "code": offer.code,
                    "percent": format(offer.value, "f"),
                    "endsAt": offer.conditions.ends_at.isoformat()
                    if offer.conditions.ends_at
                    else None,
                },
            },
        )
        return True

    async def _offer(self, cart_id: str, customer_id: str, now: datetime) -> Promotion:
        """One offer per cart: a later abandonment of the same cart repeats the same code."""
        existing = await self._promotions.get(f"abandoned-{cart_id}")
        if existing is not None:
            return existing
        digest = hashlib.sha256(cart_id.encode()).hexdigest()[:8].upper()
        offer = Promotion(
            id=f"abandoned-{cart_id}",
            kind=OfferKind.PERCENTAGE,
            title=f"{self._offer_percent} % off to finish your order",
            code=f"BACK-{digest}",
            value=self._offer_percent,
            conditions=Conditions(ends_at=now + self._offer_valid),
            limits=Limits(per_customer=1),
            customer_id=customer_id,
        )
        await self._promotions.put_new(offer)
        return offer
