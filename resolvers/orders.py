"""One order by its id or number, for its owner and for staff (commerce/order_lookup.py),
and `orderChanged`: the order pushed to its follower each time it changes
(commerce/order_follow.py)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Annotated

import strawberry

from commerce.access import DISPLAY_REFUSED, display_refusals
from commerce.change_streams import FeedUnavailable
from commerce.errors import Forbidden
from commerce.order_lookup import OrderRead, OwnerRefs
from connectors.records import ExternalRef
from engine.context import Info
from engine.errors import PublicError
from resolvers.customers import Order


def owner_refs(info: Info) -> OwnerRefs:
    """A customer's ids in every system (their profile's external refs)."""

    async def refs(customer_id: str) -> list[ExternalRef]:
        read = await info.context.loaders.customer_by_id.load(customer_id)
        return [] if read is None else list(read.profile.external_refs)

    return refs


def described(info: Info, order_id: str | None, number: str | None) -> Callable[[], OrderRead]:
    """The audit entry of a staff look-up, made only when one is written."""

    def describe() -> OrderRead:
        operation = info.operation
        return OrderRead(
            order_id=order_id,
            number=number,
            operation_name=operation.name.value if operation.name else None,
            operation_type=operation.operation.value,
            path=".".join(str(key) for key in info.path.as_list()),
        )

    return describe


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
        order_id = None if id is None else str(id)
        found = await info.context.services.order_lookup.find(
            info.context.principal,
            order_id=order_id,
            number=number,
            owner_refs=owner_refs(info),
            describe=described(info, order_id, number),
        )
        return Order.from_record(found)


@strawberry.type
class OrderSubscriptions:
    @strawberry.subscription(
        description="The order as it is when subscribing, then again each time it changes "
        "(paid at the terminal, refunded, fulfilled, ready for pickup, picked up), as its "
        "system holds it. Who may follow an order is decided as for `order(id:)`: a "
        "customer their own orders (any other is NOT_FOUND), staff any order (audited once, "
        "on subscribing). Completes if the order's system no longer knows it."
    )
    async def order_changed(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Order, None]:
        context = info.context
        if display_refusals(context.principal, ["Subscription.orderChanged"]):
            raise Forbidden(DISPLAY_REFUSED)
        order_id = str(id)
        updates = context.services.order_follower.follow(
            context.principal,
            order_id,
            owner_refs=owner_refs(info),
            describe=described(info, order_id, None),
        )
        try:
            async for order in updates:
                yield Order.from_record(order)
        except FeedUnavailable as exc:
            raise PublicError(
                "Live order updates are unavailable right now.", code="CACHE_UNAVAILABLE"
            ) from exc
        finally:
            await updates.aclose()
