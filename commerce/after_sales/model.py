"""What an after-sales request asks, and why one is refused (each reason a stable code)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connectors.records import AfterSalesKind, AfterSalesRecord


class RequestErrorCode(StrEnum):
    INVALID_DESCRIPTION = "INVALID_DESCRIPTION"  # empty, or longer than MAX_DESCRIPTION
    INVALID_SKU = "INVALID_SKU"  # not a SKU's shape
    INVALID_KEY = "INVALID_KEY"  # the idempotency key: 1 to 255 characters
    NOTHING_REFERENCED = "NOTHING_REFERENCED"  # neither an order nor a product named
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"  # none with this id, or another customer's
    SKU_NOT_IN_ORDER = "SKU_NOT_IN_ORDER"
    PRODUCT_NOT_FOUND = "PRODUCT_NOT_FOUND"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    CUSTOMER_REQUIRED = "CUSTOMER_REQUIRED"  # staff open a request for a named customer
    NOT_IN_CRM = "NOT_IN_CRM"  # the customer has no record in the CRM to attach it to
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    REQUEST_NOT_FOUND = "REQUEST_NOT_FOUND"
    INVALID_STATUS = "INVALID_STATUS"  # UNKNOWN is read from the CRM, never set
    UPSTREAM = "UPSTREAM"  # a system the request needs failed: nothing was opened or changed
    UNSUPPORTED = "UNSUPPORTED"  # the configured CRM keeps no after-sales requests


@dataclass(frozen=True, slots=True)
class RequestError:
    code: RequestErrorCode
    message: str
    field: tuple[str, ...] | None = None


class RequestRefused(Exception):
    def __init__(self, error: RequestError) -> None:
        super().__init__(error.message)
        self.error = error


def refused(code: RequestErrorCode, message: str, *field: str) -> RequestRefused:
    return RequestRefused(RequestError(code, message, tuple(field) or None))


@dataclass(frozen=True, slots=True)
class RequestInput:
    kind: AfterSalesKind
    description: str
    order_id: str | None = None
    sku: str | None = None
    customer_id: str | None = None  # staff: whose request it is; a customer: themselves


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    record: AfterSalesRecord | None
    replayed: bool = False
    errors: tuple[RequestError, ...] = ()
