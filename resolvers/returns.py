"""Returns anywhere: staff at any store take back lines of an order (commerce/returns)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Annotated

import strawberry

from commerce.returns import model
from engine.context import Info
from resolvers.common import Money
from resolvers.stores import Store, store_from_record


@strawberry.input
class ReturnLineInput:
    sku: strawberry.ID
    quantity: int
    damaged: bool = strawberry.field(
        default=False, description="Not put back on sale: the store's stock is left as it is."
    )


@strawberry.type
class ReturnedLine:
    sku: strawberry.ID
    quantity: int
    damaged: bool


@strawberry.enum(description="How far a return went: each step is recorded before the next.")
class ReturnState(Enum):
    RESERVED = "RESERVED"
    REFUNDED = "REFUNDED"
    COMPLETED = "COMPLETED"


@strawberry.enum
class ReturnErrorCode(Enum):
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    LINE_NOT_IN_ORDER = "LINE_NOT_IN_ORDER"
    QUANTITY_EXCEEDED = "QUANTITY_EXCEEDED"
    NOT_PAID = "NOT_PAID"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    REFUND_REFUSED = "REFUND_REFUSED"
    REQUEST_NOT_FOUND = "REQUEST_NOT_FOUND"
    REQUEST_NOT_OPEN = "REQUEST_NOT_OPEN"


@strawberry.type
class ReturnUserError:
    field: list[str] | None = strawberry.field(description="Path to the input at fault.")
    message: str
    code: ReturnErrorCode


@strawberry.type(description="Lines of an order taken back at a store (docs/returns.md).")
class OrderReturn:
    id: strawberry.ID
    order_id: strawberry.ID
    lines: list[ReturnedLine]
    refund: Money = strawberry.field(
        description="Given back to the order's payment: what was paid, less what the kept "
        "lines now cost (a broken promotion re-priced)."
    )
    refund_id: str | None = strawberry.field(description="The payments system's refund.")
    restocked: bool = strawberry.field(
        description="The units not marked damaged are back in the store's stock."
    )
    points_taken_back: int | None
    points_not_recovered: int = strawberry.field(
        description="Points earned on the refunded money that the balance no longer held: "
        "written off, never a negative balance."
    )
    state: ReturnState
    store_id: strawberry.Private[str]

    @strawberry.field(description="The receiving store.")
    async def store(self, info: Info) -> Store | None:
        location = await info.context.services.stores.get(self.store_id)
        return store_from_record(location) if location else None

    @classmethod
    def from_record(cls, record: model.ReturnRecord) -> OrderReturn:
        return cls(
            id=strawberry.ID(record.id),
            order_id=strawberry.ID(record.order_id),
            lines=[
                ReturnedLine(sku=strawberry.ID(li.sku), quantity=li.quantity, damaged=li.damaged)
                for li in record.lines
            ],
            refund=Money(amount=format(record.refund, "f"), currency=record.currency),
            refund_id=record.refund_id,
            restocked=record.restocked,
            points_taken_back=record.points_taken_back,
            points_not_recovered=record.points_not_recovered,
            state=ReturnState(record.state.value),
            store_id=record.store_id,
        )


@strawberry.type
class OrderReturnPayload:
    order_return: OrderReturn | None
    replayed: bool = strawberry.field(
        description="True when this is the return an earlier call with the same key made."
    )
    user_errors: list[ReturnUserError]


def return_payload(outcome: model.ReturnOutcome) -> OrderReturnPayload:
    return OrderReturnPayload(
        order_return=None if outcome.record is None else OrderReturn.from_record(outcome.record),
        replayed=outcome.replayed,
        user_errors=user_errors(outcome.errors),
    )


def user_errors(errors: Iterable[model.ReturnError]) -> list[ReturnUserError]:
    """A return's or a return request's refusals as the payload lists them."""
    return [
        ReturnUserError(
            field=list(e.field) if e.field else None,
            message=e.message,
            code=ReturnErrorCode(e.code.value),
        )
        for e in errors
    ]


@strawberry.type
class ReturnMutations:
    @strawberry.mutation(
        description="Staff at any store take back lines of an online or in-store order: the "
        "refund goes to the order's payment, the units not damaged back to this store's "
        "stock, the points earned on them are taken back. Exactly once per idempotencyKey: "
        "retry with it after any failure; a line's units can never be returned twice "
        "(QUANTITY_EXCEEDED). FORBIDDEN to anyone but staff."
    )
    async def order_return(
        self,
        info: Info,
        order_id: strawberry.ID,
        lines: list[ReturnLineInput],
        idempotency_key: Annotated[
            str, strawberry.argument(description="One per return; 1 to 255 characters.")
        ],
    ) -> OrderReturnPayload:
        outcome = await info.context.services.returns.take_back(
            info.context.principal,
            str(order_id),
            [model.ReturnLine(str(li.sku), li.quantity, li.damaged) for li in lines],
            idempotency_key,
        )
        return return_payload(outcome)
