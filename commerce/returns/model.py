"""What a return asks, what it records, and why one is refused."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class ReturnState(StrEnum):
    RESERVED = "RESERVED"  # the quantities are the return's; nothing moved yet
    REFUNDED = "REFUNDED"  # the money went back
    COMPLETED = "COMPLETED"  # restocked and points taken back too


class ReturnErrorCode(StrEnum):
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    LINE_NOT_IN_ORDER = "LINE_NOT_IN_ORDER"
    QUANTITY_EXCEEDED = "QUANTITY_EXCEEDED"  # more than is left to return of that line
    NOT_PAID = "NOT_PAID"  # nothing was paid on the order through a system that refunds
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    REFUND_REFUSED = "REFUND_REFUSED"  # the payments system refused the refund
    # a customer's return request (request_model.py): none of hers with this id, or one
    # no longer open (received, cancelled, expired)
    REQUEST_NOT_FOUND = "REQUEST_NOT_FOUND"
    REQUEST_NOT_OPEN = "REQUEST_NOT_OPEN"


@dataclass(frozen=True, slots=True)
class ReturnError:
    code: ReturnErrorCode
    message: str
    field: tuple[str, ...] | None = None


class ReturnRefused(Exception):
    def __init__(self, error: ReturnError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True, slots=True)
class ReturnLine:
    sku: str
    quantity: int
    damaged: bool = False  # not put back on sale


@dataclass(frozen=True, slots=True)
class ReturnRecord:
    id: str
    order_id: str
    store_id: str
    lines: tuple[ReturnLine, ...]
    refund: Decimal
    currency: str
    payment_id: str
    state: ReturnState
    refund_id: str | None = None
    restocked: bool = False
    # an online order's refund recorded on the shop's order (Shopify's refund id)
    shop_recorded: bool = False
    shop_refund_id: str | None = None
    points_taken_back: int | None = None
    points_not_recovered: int = 0


@dataclass(frozen=True, slots=True)
class ReturnOutcome:
    record: ReturnRecord | None
    replayed: bool
    errors: tuple[ReturnError, ...] = ()
