"""Refunds API: RefundPayment (`POST /v2/refunds`) for a card payment taken through the
Payments API.

Square's contract (Refunds API reference, "Refund payments"): `idempotency_key` (1..45
characters) and `amount_money` are required, `payment_id` names the payment refunded; the
same key and body answer the first refund again and refund nothing more, the same key with
another body is 400 IDEMPOTENCY_KEY_REUSED; only a COMPLETED payment can be refunded
(REFUND_ERROR_PAYMENT_NEEDS_COMPLETION for an authorised one, PAYMENT_NOT_REFUNDABLE for a
cancelled one), and never for more than what is left of it (REFUND_AMOUNT_INVALID). The
payment then shows `refunded_money` and `refund_ids`, and when it belongs to an Orders API
order, the order lists the refund in `refunds`.

The sandbox's refunds complete at once (Square's may stay PENDING a while); the payment is
answered `COMPLETED`, as a real refund ends.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sandbox.square.create_order import base62
from sandbox.square.envelope import SquareApiError, invalid_request
from sandbox.square.idempotency import fingerprint, first_use, refuse_unknown_fields
from sandbox.square.payments import IDEMPOTENCY_KEY_MAX, _amount, _money, _payment, _string
from sandbox.square.shapes import rfc3339
from sandbox.square.world import KeyedPayment, PlacedOrder, SquareWorld

REASON_MAX = 192
_FIELDS = frozenset(
    {
        "idempotency_key",
        "amount_money",
        "app_fee_money",
        "payment_id",
        "location_id",
        "customer_id",
        "reason",
        "payment_version_token",
        "team_member_id",
    }
)


async def refund_payment(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    refuse_unknown_fields(body, _FIELDS, "RefundPaymentRequest")
    key = _string(body, "idempotency_key", IDEMPOTENCY_KEY_MAX, required=True)
    assert key is not None
    first = first_use(world.refund_keys, key, body)
    if first is not None:
        return {"refund": world.refunds[first.payment_id]}
    amount = _amount(body)
    payment_id = _string(body, "payment_id", None, required=True)
    assert payment_id is not None
    reason = _string(body, "reason", REASON_MAX)
    payment = _payment(world, payment_id)
    if payment["status"] == "APPROVED":
        raise invalid_request(
            "REFUND_ERROR_PAYMENT_NEEDS_COMPLETION",
            "The payment must be completed before it can be refunded.",
            "payment_id",
        )
    if payment["status"] != "COMPLETED":
        raise invalid_request(
            "PAYMENT_NOT_REFUNDABLE", "The payment cannot be refunded.", "payment_id"
        )
    refunded = int((payment.get("refunded_money") or {}).get("amount") or 0)
    left = int(payment["amount_money"]["amount"]) - refunded
    if amount <= 0 or amount > left:
        raise SquareApiError(
            400,
            "REFUND_ERROR",
            "REFUND_AMOUNT_INVALID",
            f"The refund amount must be between 1 and the {left} left on the payment.",
            "amount_money.amount",
        )
    now = rfc3339(world.wall_clock())
    refund_id = f"{payment_id}_{base62(f'refund:{len(world.refunds)}', 30)}"
    refund: dict[str, Any] = {
        "id": refund_id,
        "status": "COMPLETED",
        "location_id": payment["location_id"],
        "amount_money": _money(amount),
        "payment_id": payment_id,
        "order_id": payment["order_id"],
        "created_at": now,
        "updated_at": now,
    }
    if reason is not None:
        refund["reason"] = reason
    world.refunds[refund_id] = refund
    world.refund_keys[key] = KeyedPayment(fingerprint(body), refund_id)
    payment["refunded_money"] = _money(refunded + amount)
    payment["refund_ids"] = [*payment.get("refund_ids", []), refund_id]
    payment["updated_at"] = now
    _on_order(world, refund, payment)
    return {"refund": refund}


def _on_order(world: SquareWorld, refund: dict[str, Any], payment: dict[str, Any]) -> None:
    """The refund listed on the payment's Orders API order (Order.refunds)."""
    order = world.orders_by_id.get(payment["order_id"])
    if not isinstance(order, PlacedOrder):
        return
    entry = {
        "id": refund["id"],
        "location_id": refund["location_id"],
        "transaction_id": order.id,
        "tender_id": payment["id"],
        "created_at": refund["created_at"],
        "reason": refund.get("reason") or "Refund",
        "amount_money": refund["amount_money"],
        "status": "APPROVED",
    }
    order.payload["refunds"] = [*order.payload.get("refunds", []), entry]
    order.payload["version"] = int(order.payload["version"]) + 1
    order.payload["updated_at"] = refund["created_at"]
