"""Loyalty points through a LoyaltyPort, exactly once: the POS's loyalty API (Square
Loyalty) or omnigate's own ledger in MongoDB where the POS has none (points_ledger.py,
docs/adapters.md).

Balance and tier come from the account (read into the customer profile). A shopper spends
points on a cart (`cartApplyLoyaltyPoints`): `point_value` each off the total, after the
promotions. At checkout the points are taken with AdjustLoyaltyPoints before the order
goes upstream, under a vendor idempotency key derived from the checkout attempt, so a
retry, a twin or a crash-and-resume takes them once; a refused order gives them back
(another derived key, so once too). A paid order earns points with
AccumulateLoyaltyPoints on every channel, never an unpaid one (the checkout calls `earn`
once the money is taken: docs/payments.md): a POS order by its order id (Square applies
the program's accrual rules), an online order with the points computed the same way
(`points_per_currency_unit` per whole unit of the total), again under a derived key. A
ledger that applies no accrual rules of its own (`accrues_pos_orders` False: omnigate's)
gets the points computed that way for POS orders too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_FLOOR

from commerce.customers.cache import ProfileCache
from commerce.offers.outbox import EventType, Outbox
from connectors.ports import LoyaltyPort
from connectors.records import LoyaltyPointsChange, OrderRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoyaltySpend:
    """What a checkout attempt spends: whose account, how many points."""

    customer_id: str
    account_id: str
    points: int


class LoyaltyLedger:
    def __init__(
        self,
        points: LoyaltyPort,
        profile_cache: ProfileCache,
        outbox: Outbox,
        *,
        points_per_currency_unit: int,
        online_location_id: str,
    ) -> None:
        self._points = points
        self._profile_cache = profile_cache
        self._outbox = outbox
        self._points_per_unit = points_per_currency_unit
        self._online_location_id = online_location_id

    async def burn(self, attempt_id: str, spend: LoyaltySpend) -> None:
        """Raises UpstreamRejected when the balance no longer holds the points."""
        change = await self._points.adjust_loyalty_points(
            spend.account_id,
            -spend.points,
            idempotency_key=f"{attempt_id}:burn",
            reason="omnigate checkout",
        )
        await self._changed(f"{attempt_id}:burn", spend.customer_id, change)

    async def refund(self, attempt_id: str, spend: LoyaltySpend) -> None:
        change = await self._points.adjust_loyalty_points(
            spend.account_id,
            spend.points,
            idempotency_key=f"{attempt_id}:refund",
            reason="omnigate checkout refused upstream",
        )
        await self._changed(f"{attempt_id}:refund", spend.customer_id, change)

    async def earn(
        self, attempt_id: str, customer_id: str, account_id: str, order: OrderRecord, in_store: bool
    ) -> int:
        """The points the order earned (0 when nothing qualifies)."""
        key = f"{attempt_id}:earn"
        if in_store and self._points.accrues_pos_orders:
            change = await self._points.accumulate_loyalty_points(
                account_id,
                idempotency_key=key,
                location_id=order.location_id or self._online_location_id,
                order_id=order.ref.id,
            )
        else:
            whole = order.total.amount.to_integral_value(rounding=ROUND_FLOOR)
            points = int(whole) * self._points_per_unit
            if points <= 0:
                return 0
            location_id = (order.location_id if in_store else None) or self._online_location_id
            change = await self._points.accumulate_loyalty_points(
                account_id, idempotency_key=key, location_id=location_id, points=points
            )
        await self._changed(key, customer_id, change)
        return change.points

    async def _changed(self, key: str, customer_id: str, change: LoyaltyPointsChange) -> None:
        """The cached profile shows the new balance on its next read; marketing hears of it."""
        await self._profile_cache.delete(customer_id)
        if change.points:
            await self._outbox.emit(
                f"points:{key}",
                EventType.POINTS_CHANGED,
                {
                    "customerId": customer_id,
                    "loyaltyAccountId": change.account_id,
                    "points": change.points,
                    "loyaltyEventId": change.event_id,
                },
            )
