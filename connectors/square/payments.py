"""Square as omnigate's PaymentsPort: card payments through the Payments API.

Delayed capture, as Square's "Delayed capture of a card payment" guide has it:
CreatePayment with `autocomplete: false` authorises the card (APPROVED, the money held),
CompletePayment takes it (COMPLETED), CancelPayment releases it (CANCELED). Square's
`idempotency_key` (at most 45 characters) makes CreatePayment exactly-once, so the
transport may resend it; Complete and Cancel carry no key but are safe to repeat (a
completed payment completes again as it is), so they may be resent too.

A declined card is Square's 400 with category PAYMENT_METHOD_ERROR: SquareClient raises
`PaymentDeclined` with Square's code. Every body sent and read here is held to Square's
OpenAPI document in tests/contract/test_square_payments_contract.py.
"""

from __future__ import annotations

from typing import Any

from connectors.errors import UpstreamRejected, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.records import (
    PaymentRecord,
    PaymentRequest,
    PaymentStatus,
    RefundRecord,
    RefundRequest,
)
from connectors.square import mapping
from connectors.square.client import SquareClient
from connectors.square.settings import SquareSettings

GATEWAY = "square"
IDEMPOTENCY_KEY_MAX = 45
REFERENCE_ID_MAX = 40
NOTE_MAX = 500
# RefundPaymentRequest.reason: "Max Length 192"
REFUND_REASON_MAX = 192


class SquarePayments:
    def __init__(self, http: UpstreamHttp, settings: SquareSettings) -> None:
        self.service = http.service
        self._client = SquareClient(http, settings)
        self._location_id = settings.online_location_id

    async def authorize(self, request: PaymentRequest) -> PaymentRecord:
        operation = "square.payments.create"
        if not 1 <= len(request.idempotency_key) <= IDEMPOTENCY_KEY_MAX:
            raise ValueError(f"a Square payment key is 1 to {IDEMPOTENCY_KEY_MAX} characters")
        body: dict[str, Any] = {
            "source_id": request.source_token,
            "idempotency_key": request.idempotency_key,
            "amount_money": mapping.square_money(request.amount),
            "autocomplete": False,
            "location_id": request.location_id or self._location_id,
        }
        if request.reference_id:
            body["reference_id"] = request.reference_id[:REFERENCE_ID_MAX]
        if request.note:
            body["note"] = request.note[:NOTE_MAX]
        if request.customer_id:
            body["customer_id"] = request.customer_id
        payload = await self._client.call(operation, "POST", "/v2/payments", body, idempotent=True)
        return self._record(operation, payload)

    async def complete(self, payment_id: str) -> PaymentRecord:
        operation = "square.payments.complete"
        path = f"/v2/payments/{payment_id}/complete"
        payload = await self._client.call(operation, "POST", path, {}, idempotent=True)
        return self._record(operation, payload)

    async def cancel(self, payment_id: str) -> PaymentRecord:
        operation = "square.payments.cancel"
        path = f"/v2/payments/{payment_id}/cancel"  # CancelPayment takes no body
        payload = await self._client.call(operation, "POST", path, idempotent=True)
        return self._record(operation, payload)

    async def payment(self, payment_id: str) -> PaymentRecord | None:
        operation = "square.payments.get"
        try:
            payload = await self._client.call(
                operation, "GET", f"/v2/payments/{payment_id}", idempotent=True
            )
        except UpstreamRejected as exc:
            if exc.status == 404:
                return None
            raise
        return self._record(operation, payload)

    async def order_paid(self, order_id: str) -> bool:
        """BatchRetrieveOrders: paid when the order has tenders and nothing left due."""
        operation = "square.orders.batch_retrieve"
        body = {"order_ids": [order_id]}
        payload = await self._client.call(
            operation, "POST", "/v2/orders/batch-retrieve", body, idempotent=True
        )
        try:
            orders = [o for o in payload.get("orders") or [] if o.get("id") == order_id]
            if not orders:
                return False
            (order,) = orders
            due = int((order.get("net_amount_due_money") or {}).get("amount", 1))
            return bool(order.get("tenders")) and due == 0
        except (AttributeError, TypeError, ValueError) as exc:
            raise UpstreamUnavailable(self.service, operation, f"unexpected body: {exc!r}") from exc

    async def refund(self, request: RefundRequest) -> RefundRecord:
        """RefundPayment: the same key and body answer the first refund (so it may be resent)."""
        operation = "square.refunds.refund_payment"
        if not 1 <= len(request.idempotency_key) <= IDEMPOTENCY_KEY_MAX:
            raise ValueError(f"a Square refund key is 1 to {IDEMPOTENCY_KEY_MAX} characters")
        body: dict[str, Any] = {
            "idempotency_key": request.idempotency_key,
            "payment_id": request.payment_id,
            "amount_money": mapping.square_money(request.amount),
        }
        if request.reason:
            body["reason"] = request.reason[:REFUND_REASON_MAX]
        payload = await self._client.call(operation, "POST", "/v2/refunds", body, idempotent=True)
        try:
            refund = payload["refund"]
            return RefundRecord(
                ref=mapping.ref(str(refund["id"])),
                payment_id=str(refund["payment_id"]),
                amount=mapping.money(refund["amount_money"]),
                status=str(refund.get("status") or "PENDING"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamUnavailable(self.service, operation, f"unexpected body: {exc!r}") from exc

    def _record(self, operation: str, payload: dict[str, Any]) -> PaymentRecord:
        try:
            payment = payload["payment"]
            card = (payment.get("card_details") or {}).get("card") or {}
            return PaymentRecord(
                ref=mapping.ref(str(payment["id"])),
                status=PaymentStatus(payment["status"]),
                amount=mapping.money(payment["amount_money"]),
                gateway=GATEWAY,
                order_id=payment.get("order_id"),
                card_brand=card.get("card_brand"),
                last_4=card.get("last_4"),
                reference_id=payment.get("reference_id"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamUnavailable(self.service, operation, f"unexpected body: {exc!r}") from exc
