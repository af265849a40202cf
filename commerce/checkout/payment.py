"""The card payment of an online checkout: authorised before the order, captured after it.

Each step is recorded on the checkout attempt (commerce/checkout/store.py `payment_step`)
so a retry with the same key, or the reconciler, knows where the money stands:

- `authorise` records REQUESTED, then asks the payments system to hold the amount under a
  key derived from the attempt, then records AUTHORIZED with the payment's id. A retry
  sends the very same request (same key, token, amount) and gets the same payment back, so
  an answer lost in between charges nothing twice. A declined card is recorded DECLINED
  and raised: no money moved.
- `capture` takes the held money once the order is placed and recorded (CAPTURED).
- `void` releases it when the order is refused (VOIDED): no money without an order.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from decimal import Decimal

from commerce.checkout.store import CheckoutRecord, CheckoutStore, PaymentState
from connectors.errors import PaymentDeclined
from connectors.ports import PaymentsPort
from connectors.records import Money, OrderDraft, OrderPayment, PaymentRecord, PaymentRequest

# Square's CreatePayment key is at most 45 characters: a prefix and 38 hex digits.
KEY_PREFIX = "og-pay-"


def payment_key(record_id: str) -> str:
    """The payment key of a new attempt: its checkout key's digest with a nonce drawn once,
    when the attempt starts, and stored with it, so every retry sends the same key while a
    client key used again after its attempt expired can never replay an old payment."""
    salted = f"{record_id}:payment:{secrets.token_hex(16)}"
    return KEY_PREFIX + hashlib.sha256(salted.encode()).hexdigest()[:38]


def amount_due(draft: OrderDraft) -> Money:
    """What the order will cost: its lines at their prices, less the one discount."""
    lines = sum((line.unit_price.amount * line.quantity for line in draft.lines), Decimal(0))
    discount = draft.discount.amount if draft.discount is not None else Decimal(0)
    return Money(max(lines - discount, Decimal(0)), draft.currency)


def paid_draft(draft: OrderDraft, payment: PaymentRecord) -> OrderDraft:
    """The draft as placed: recording the payment that pays it."""
    return replace(draft, payment=OrderPayment(payment.gateway, payment.ref.id, payment.amount))


class CheckoutPayments:
    def __init__(self, payments: PaymentsPort, checkouts: CheckoutStore) -> None:
        self._payments = payments
        self._checkouts = checkouts

    async def authorise(self, record: CheckoutRecord) -> PaymentRecord:
        """The held payment for this attempt; raises PaymentDeclined (recorded DECLINED)."""
        if record.payment_token is None or record.payment_key is None:
            raise ValueError("an online checkout attempt without a card token")
        await self._checkouts.payment_step(record.id, PaymentState.REQUESTED)
        request = PaymentRequest(
            idempotency_key=record.payment_key,
            source_token=record.payment_token,
            amount=amount_due(record.draft),
            reference_id=record.id[:40],
            note=record.draft.note,
        )
        try:
            payment = await self._payments.authorize(request)
        except PaymentDeclined:
            await self._checkouts.payment_step(record.id, PaymentState.DECLINED)
            raise
        await self._checkouts.payment_step(record.id, PaymentState.AUTHORIZED, payment.ref.id)
        return payment

    async def capture(self, record: CheckoutRecord) -> None:
        if record.payment_id is None:
            raise ValueError("nothing to capture: the attempt names no payment")
        await self._payments.complete(record.payment_id)
        await self._checkouts.payment_step(record.id, PaymentState.CAPTURED)

    async def void(self, record_id: str, payment_id: str) -> None:
        await self._payments.cancel(payment_id)
        await self._checkouts.payment_step(record_id, PaymentState.VOIDED)

    async def order_paid(self, order_id: str) -> bool:
        return await self._payments.order_paid(order_id)
