"""Whether a customer has ordered before, on any channel: a referral code is for a friend's
first order (referrals.py).

Two sources, either one enough: an order omnigate completed for them (`checkouts`, kept
for the checkout retention), and their order history in the systems of record (POS
receipts and online orders, through the profile's identities). An upstream that does not
answer is not held against the shopper: the history then counts as omnigate's alone (a
warning is logged), so a POS outage does not block a web checkout.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from commerce.checkout.store import COLLECTION as CHECKOUTS
from commerce.checkout.store import CheckoutState
from commerce.customers.profiles import CustomerProfiles
from commerce.orders import OrderHistory
from connectors.errors import UpstreamError

log = logging.getLogger(__name__)


class PurchaseHistory:
    def __init__(
        self,
        database: AsyncDatabase[dict[str, Any]],
        customers: CustomerProfiles,
        orders: OrderHistory,
    ) -> None:
        self._checkouts: AsyncCollection[dict[str, Any]] = database[CHECKOUTS]
        self._customers = customers
        self._orders = orders

    async def ensure_indexes(self) -> None:
        await self._checkouts.create_index(
            [("customer_id", 1), ("state", 1)],
            partialFilterExpression={"customer_id": {"$type": "string"}},
        )

    async def has_ordered(self, customer_id: str) -> bool:
        completed = await self._checkouts.find_one(
            {"customer_id": customer_id, "state": CheckoutState.COMPLETED.value}, {"_id": 1}
        )
        if completed is not None:
            return True
        read = await self._customers.one(customer_id)
        if read is None:
            return False
        try:
            page = await self._orders.page(read.profile, 1, None)
        except UpstreamError as exc:
            log.warning("order history of %s unavailable for a referral: %s", customer_id, exc)
            return False
        return bool(page.orders)
