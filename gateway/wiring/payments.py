"""The payments the checkout and returns use: online card payments through Square's
Payments API (docs/payments.md), and whether a store order was paid at the terminal, asked
of the POS when it says so itself (PosPaidOrders: Shopify POS), else of the payments
system (Square: the order's tenders)."""

from __future__ import annotations

from connectors.ports import PaymentsPort, PosPaidOrders, PosPort
from connectors.records import PaymentRecord, PaymentRequest, RefundRecord, RefundRequest


class PosPaidPayments:
    """A PaymentsPort whose `order_paid` is the POS's, every other member the card
    payments system's."""

    def __init__(self, payments: PaymentsPort, pos: PosPaidOrders) -> None:
        self.service = payments.service
        self._payments = payments
        self._pos = pos

    async def authorize(self, request: PaymentRequest) -> PaymentRecord:
        return await self._payments.authorize(request)

    async def complete(self, payment_id: str) -> PaymentRecord:
        return await self._payments.complete(payment_id)

    async def cancel(self, payment_id: str) -> PaymentRecord:
        return await self._payments.cancel(payment_id)

    async def payment(self, payment_id: str) -> PaymentRecord | None:
        return await self._payments.payment(payment_id)

    async def order_paid(self, order_id: str) -> bool:
        return await self._pos.order_paid(order_id)

    async def refund(self, request: RefundRequest) -> RefundRecord:
        return await self._payments.refund(request)


def payments_for(payments: PaymentsPort, pos: PosPort) -> PaymentsPort:
    """`payments`, with the POS's own word on store orders where it has one."""
    return PosPaidPayments(payments, pos) if isinstance(pos, PosPaidOrders) else payments
