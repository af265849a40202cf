"""One order by its id or number, for its owner and for staff (commerce/order_lookup.py)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from commerce.order_lookup import OrderRead
from connectors.records import ExternalRef
from engine.context import Info
from resolvers.customers import Order


@strawberry.type
class OrderQueries:
    @strawberry.field(
        description="One order, online or in store, read from the system holding it: by "
        "`id` (Order.id) or by `number` (the number the online shop shows, `#1001`), one of "
        "the two. A customer reaches only their own orders: any other, like an order that "
        "does not exist, is null with NOT_FOUND. Staff reach any order; every look-up is "
        "audited."
    )
    async def order(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        number: Annotated[
            str | None, strawberry.argument(description="The online shop's order number.")
        ] = None,
    ) -> Order | None:
        async def owner_refs(customer_id: str) -> list[ExternalRef]:
            read = await info.context.loaders.customer_by_id.load(customer_id)
            return [] if read is None else list(read.profile.external_refs)

        def describe() -> OrderRead:
            operation = info.operation
            return OrderRead(
                order_id=None if id is None else str(id),
                number=number,
                operation_name=operation.name.value if operation.name else None,
                operation_type=operation.operation.value,
                path=".".join(str(key) for key in info.path.as_list()),
            )

        found = await info.context.services.order_lookup.find(
            info.context.principal,
            order_id=None if id is None else str(id),
            number=number,
            owner_refs=owner_refs,
            describe=describe,
        )
        return Order.from_record(found)
