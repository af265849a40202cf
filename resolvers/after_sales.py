"""After-sales requests: a customer in the app or staff in a store open one about an order or
a product; staff move its status; the CRM keeps it (commerce/after_sales, docs/after-sales.md)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from commerce.after_sales.model import RequestInput, RequestOutcome
from connectors import records
from engine.context import Info


@strawberry.enum(description="What an after-sales request is about.")
class AfterSalesKind(Enum):
    DAMAGED = "DAMAGED"
    MISSING = "MISSING"
    QUESTION = "QUESTION"


@strawberry.enum(
    description="Where the CRM's agents are with a request; UNKNOWN: a status the CRM "
    "reports that this API does not know (never set)."
)
class AfterSalesStatus(Enum):
    NEW = "NEW"
    WORKING = "WORKING"
    ESCALATED = "ESCALATED"
    CLOSED = "CLOSED"
    UNKNOWN = "UNKNOWN"


@strawberry.enum(description="Who opened the request: the customer's app, or staff in a store.")
class AfterSalesChannel(Enum):
    APP = "APP"
    STORE = "STORE"


@strawberry.enum
class AfterSalesErrorCode(Enum):
    INVALID_DESCRIPTION = "INVALID_DESCRIPTION"
    INVALID_SKU = "INVALID_SKU"
    INVALID_KEY = "INVALID_KEY"
    NOTHING_REFERENCED = "NOTHING_REFERENCED"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    SKU_NOT_IN_ORDER = "SKU_NOT_IN_ORDER"
    PRODUCT_NOT_FOUND = "PRODUCT_NOT_FOUND"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    CUSTOMER_REQUIRED = "CUSTOMER_REQUIRED"
    NOT_IN_CRM = "NOT_IN_CRM"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    REQUEST_NOT_FOUND = "REQUEST_NOT_FOUND"
    INVALID_STATUS = "INVALID_STATUS"
    UPSTREAM = "UPSTREAM"
    UNSUPPORTED = "UNSUPPORTED"


@strawberry.type
class AfterSalesUserError:
    field: list[str] | None = strawberry.field(description="Path to the input at fault.")
    message: str
    code: AfterSalesErrorCode


@strawberry.type(description="A request about an order or a product, kept in the CRM.")
class AfterSalesRequest:
    id: strawberry.ID = strawberry.field(
        description="The CRM's id (a Salesforce Case id, a HubSpot ticket id)."
    )
    number: str | None = strawberry.field(
        description="What the CRM's agents call it (the Case number, the HubSpot ticket id)."
    )
    kind: AfterSalesKind | None = strawberry.field(
        description="Null for a request opened in the CRM with a type this API does not know."
    )
    status: AfterSalesStatus
    description: str | None
    channel: AfterSalesChannel | None
    order_id: strawberry.ID | None
    sku: str | None
    created_at: datetime
    updated_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def from_record(
        cls, record: records.AfterSalesRecord, *, hide_description: bool = False
    ) -> AfterSalesRequest:
        return cls(
            id=strawberry.ID(record.ref.id),
            number=record.number,
            kind=None if record.kind is None else AfterSalesKind(record.kind.value),
            status=AfterSalesStatus(record.status.value),
            description=None if hide_description else record.description,
            channel=None if record.channel is None else AfterSalesChannel(record.channel.value),
            order_id=None if record.order_id is None else strawberry.ID(record.order_id),
            sku=record.sku,
            created_at=record.created_at,
            updated_at=record.updated_at,
            closed_at=record.closed_at,
        )


@strawberry.input
class AfterSalesRequestInput:
    kind: AfterSalesKind
    description: str = strawberry.field(description="What happened: 1 to 2,000 characters.")
    order_id: strawberry.ID | None = strawberry.field(
        default=None, description="The order it is about (Order.id): the customer's own."
    )
    sku: str | None = strawberry.field(
        default=None, description="The product it is about; with `orderId`, a line of it."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Staff: the customer it is for. A customer: omit it."
    )


@strawberry.type
class AfterSalesRequestPayload:
    request: AfterSalesRequest | None
    replayed: bool = strawberry.field(
        description="True when this is the request an earlier call with the same key opened."
    )
    user_errors: list[AfterSalesUserError]


def _payload(outcome: RequestOutcome) -> AfterSalesRequestPayload:
    return AfterSalesRequestPayload(
        request=None if outcome.record is None else AfterSalesRequest.from_record(outcome.record),
        replayed=outcome.replayed,
        user_errors=[
            AfterSalesUserError(
                field=list(e.field) if e.field else None,
                message=e.message,
                code=AfterSalesErrorCode(e.code.value),
            )
            for e in outcome.errors
        ],
    )


@strawberry.type
class AfterSalesMutations:
    @strawberry.mutation(
        description="Open an after-sales request (damaged, missing, a question) about an "
        "order or a product, kept in the CRM: a customer for themselves about their own "
        "order (another customer's is ORDER_NOT_FOUND), staff for a customer (audited). "
        "Exactly once per idempotencyKey: retry with it after any failure. UPSTREAM: the "
        "CRM or the order's system failed and nothing was opened. FORBIDDEN to kiosks."
    )
    async def after_sales_request_open(
        self,
        info: Info,
        input: AfterSalesRequestInput,
        idempotency_key: Annotated[
            str, strawberry.argument(description="One per request; 1 to 255 characters.")
        ],
    ) -> AfterSalesRequestPayload:
        asked = RequestInput(
            kind=records.AfterSalesKind(input.kind.value),
            description=input.description,
            order_id=None if input.order_id is None else str(input.order_id),
            sku=input.sku,
            customer_id=None if input.customer_id is None else str(input.customer_id),
        )
        outcome = await info.context.services.after_sales.open(
            info.context.principal, asked, idempotency_key
        )
        return _payload(outcome)

    @strawberry.mutation(
        description="Staff move a request to a status (audited); the CRM's agents may move "
        "it too, and every read answers the CRM's current status. FORBIDDEN to anyone but "
        "staff."
    )
    async def after_sales_request_set_status(
        self, info: Info, id: strawberry.ID, status: AfterSalesStatus
    ) -> AfterSalesRequestPayload:
        outcome = await info.context.services.after_sales.set_status(
            info.context.principal, str(id), records.AfterSalesStatus(status.value)
        )
        return _payload(outcome)
