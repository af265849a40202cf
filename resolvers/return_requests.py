"""A return a customer starts from the app, received by staff at any store
(commerce/returns/requests.py, docs/returns.md "A return started from the app")."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from commerce.returns import request_model as model
from engine.context import Info
from resolvers.returns import (
    OrderReturn,
    OrderReturnPayload,
    ReturnUserError,
    return_payload,
    user_errors,
)


@strawberry.enum(description="How the customer gives the goods back.")
class ReturnMethod(Enum):
    BRING_TO_STORE = "BRING_TO_STORE"
    SHIP_BACK = "SHIP_BACK"


@strawberry.enum(description="Why the customer returns the goods.")
class ReturnReason(Enum):
    DAMAGED = "DAMAGED"
    DEFECTIVE = "DEFECTIVE"
    WRONG_ITEM = "WRONG_ITEM"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    NO_LONGER_NEEDED = "NO_LONGER_NEEDED"
    OTHER = "OTHER"


@strawberry.enum(
    description="OPEN: its units are held for it, waiting for the goods; RECEIVED: staff "
    "took them back (see `orderReturn`); CANCELLED by the customer; EXPIRED: not received "
    "in time. Only OPEN holds units."
)
class ReturnRequestState(Enum):
    OPEN = "OPEN"
    RECEIVED = "RECEIVED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


@strawberry.input
class ReturnRequestLineInput:
    sku: strawberry.ID
    quantity: int


@strawberry.type
class ReturnRequestLine:
    sku: strawberry.ID
    quantity: int


@strawberry.type(
    description="A return the customer started from the app: its units are held against "
    "the order until staff receive the goods at a store, she cancels it, or it expires. "
    "No money moves until it is received."
)
class ReturnRequest:
    id: strawberry.ID = strawberry.field(description="What staff receive it by.")
    order_id: strawberry.ID
    lines: list[ReturnRequestLine]
    reason: ReturnReason
    method: ReturnMethod
    state: ReturnRequestState
    created_at: datetime
    expires_at: datetime = strawberry.field(
        description="An OPEN request not received by then expires."
    )
    closed_at: datetime | None = strawberry.field(
        description="When it was received or cancelled, or expired."
    )
    return_id: strawberry.Private[str | None]

    @strawberry.field(description="The return that received it: refund, restock, points.")
    async def order_return(self, info: Info) -> OrderReturn | None:
        if self.return_id is None:
            return None
        record = await info.context.services.returns.get(self.return_id)
        return None if record is None else OrderReturn.from_record(record)

    @classmethod
    def from_record(cls, record: model.ReturnRequestRecord, now: datetime) -> ReturnRequest:
        state = record.state_at(now)
        return cls(
            id=strawberry.ID(record.id),
            order_id=strawberry.ID(record.order_id),
            lines=[
                ReturnRequestLine(sku=strawberry.ID(li.sku), quantity=li.quantity)
                for li in record.lines
            ],
            reason=ReturnReason(record.reason.value),
            method=ReturnMethod(record.method.value),
            state=ReturnRequestState(state.value),
            created_at=record.created_at,
            expires_at=record.expires_at,
            # expired on the clock before the reconciler wrote it down: at its expiry
            closed_at=record.closed_at
            or (record.expires_at if state is model.RequestState.EXPIRED else None),
            return_id=record.return_id,
        )


@strawberry.type
class ReturnRequestPayload:
    return_request: ReturnRequest | None
    replayed: bool = strawberry.field(
        description="True when an earlier call with the same key (or cancel) made this."
    )
    user_errors: list[ReturnUserError]


def request_payload(info: Info, outcome: model.RequestOutcome) -> ReturnRequestPayload:
    now = info.context.services.return_requests.now()
    return ReturnRequestPayload(
        return_request=None
        if outcome.record is None
        else ReturnRequest.from_record(outcome.record, now),
        replayed=outcome.replayed,
        user_errors=user_errors(outcome.errors),
    )


async def requests_of_order(info: Info, order_id: str) -> list[ReturnRequest]:
    """An order's requests, newest first; the caller reached the order already."""
    found = await info.context.loaders.return_requests_by_order.load(order_id)
    now = info.context.services.return_requests.now()
    return [ReturnRequest.from_record(record, now) for record in found]


async def requests_of(info: Info, customer_id: str) -> list[ReturnRequest]:
    """A customer's requests, newest first; the caller reached the customer already."""
    services = info.context.services
    found = await services.return_requests.of_customer(customer_id)
    now = services.return_requests.now()
    return [ReturnRequest.from_record(record, now) for record in found]


@strawberry.type
class ReturnRequestMutations:
    @strawberry.mutation(
        description="The signed-in customer starts a return of lines of her own order, to "
        "bring to any store or ship back: the units are held for it (another return of "
        "them is QUANTITY_EXCEEDED) until staff receive them (`returnRequestReceive`), "
        "she cancels it, or it expires. No money moves now. Another customer's order is "
        "ORDER_NOT_FOUND. Exactly once per idempotencyKey. FORBIDDEN to anyone but a "
        "customer."
    )
    async def return_request_open(
        self,
        info: Info,
        order_id: strawberry.ID,
        lines: list[ReturnRequestLineInput],
        reason: ReturnReason,
        method: ReturnMethod,
        idempotency_key: Annotated[
            str, strawberry.argument(description="One per request; 1 to 255 characters.")
        ],
    ) -> ReturnRequestPayload:
        asked = model.RequestInput(
            order_id=str(order_id),
            lines=tuple(model.RequestLine(str(li.sku), li.quantity) for li in lines),
            reason=model.ReturnReason(reason.value),
            method=model.ReturnMethod(method.value),
        )
        outcome = await info.context.services.return_requests.open(
            info.context.principal, asked, idempotency_key
        )
        return request_payload(info, outcome)

    @strawberry.mutation(
        description="The customer withdraws her OPEN return request: its units are free "
        "again. Cancelling it again answers it (`replayed`); one received or expired is "
        "REQUEST_NOT_OPEN; another customer's is REQUEST_NOT_FOUND."
    )
    async def return_request_cancel(self, info: Info, id: strawberry.ID) -> ReturnRequestPayload:
        outcome = await info.context.services.return_requests.cancel(
            info.context.principal, str(id)
        )
        return request_payload(info, outcome)

    @strawberry.mutation(
        description="Staff at any store (or where parcels arrive) receive the goods of an "
        "OPEN return request: a return of its lines, refunded to the order's payment, "
        "restocked at this store unless `damaged`, points taken back, exactly as "
        "`orderReturn`. Once per request: receiving it again answers the same return "
        "(`replayed`). FORBIDDEN to anyone but staff."
    )
    async def return_request_receive(
        self,
        info: Info,
        id: strawberry.ID,
        damaged: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="SKUs of the request not put back on sale."),
        ] = None,
    ) -> OrderReturnPayload:
        outcome = await info.context.services.return_requests.receive(
            info.context.principal, str(id), [str(sku) for sku in damaged or []]
        )
        return return_payload(outcome)
