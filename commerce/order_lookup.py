"""One order found by its id or its number, for its owner and for staff.

| principal                    | `order(id:)` / `order(number:)`                              |
|------------------------------|--------------------------------------------------------------|
| CUSTOMER, KIOSK with hand-off | their own order; another's, or none: NOT_FOUND             |
| STAFF                        | any order, every look-up audited (`order.read`) before it is made |
| KIOSK without a hand-off     | FORBIDDEN                                                    |
| ANONYMOUS, DEVELOPER         | UNAUTHENTICATED                                              |
| DISPLAY                      | FORBIDDEN before execution (commerce/access.py)              |

The system holding the order answers: an id Shopify gave (`gid://shopify/Order/...`) is
read from the e-commerce system, any other id from the POS (Square); a number is the one
the online shop shows (Shopify's order name, `#1001`), since Square has no search by a
receipt's number and a receipt shows its id.

An order's owner is known only once it is read, so a shopper's look-up reads it and then
answers another customer's order exactly as an id that does not exist (same code, same
message, the same upstream calls): ids cannot be probed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection

from commerce.access import NOT_A_CUSTOMER
from commerce.audit import AuditLog, OrderRead
from commerce.errors import BadUserInput, Forbidden, NotFound, Unauthenticated
from commerce.principal import Principal, PrincipalKind
from connectors.ports import EcommercePort, PosPort
from connectors.records import ExternalRef, OrderRecord

SHOPIFY_ORDER_PREFIX = "gid://shopify/Order/"
NOT_FOUND_MESSAGE = "No order has this id or number."
# longer than any id or order name either system gives out
MAX_KEY_LENGTH = 128

OwnerRefs = Callable[[str], Awaitable[Collection[ExternalRef]]]


class OrderLookup:
    def __init__(self, *, pos: PosPort, ecommerce: EcommercePort, audit: AuditLog) -> None:
        self._pos = pos
        self._ecommerce = ecommerce
        self._audit = audit

    async def find(
        self,
        principal: Principal,
        *,
        order_id: str | None,
        number: str | None,
        owner_refs: OwnerRefs,
        describe: Callable[[], OrderRead],
    ) -> OrderRecord:
        """The order, or NotFound; refusals are decided before anything is read.

        `owner_refs(customer_id)`: the customer's ids in every system (their profile's
        external refs); `describe()`: the audit entry of a staff look-up."""
        _check_key(order_id, number)
        if principal.kind is PrincipalKind.STAFF:
            await self._audit.order_read(principal, describe())
            found = await self._read(order_id, number)
            if found is None:
                raise NotFound(NOT_FOUND_MESSAGE)
            return found
        customer_id = principal.customer_id
        if customer_id is None:
            if principal.kind in NOT_A_CUSTOMER:
                raise Unauthenticated("Reading an order needs a customer or staff token.")
            raise Forbidden("A kiosk reads an order only with its customer's hand-off.")
        found, refs = await asyncio.gather(self._read(order_id, number), owner_refs(customer_id))
        if found is None or found.customer_ref is None or found.customer_ref not in set(refs):
            raise NotFound(NOT_FOUND_MESSAGE)
        return found

    async def read_again(self, order_id: str) -> OrderRecord | None:
        """The order as its system holds it now, for a follower whose `find` already
        decided it may see it (commerce/order_follow.py): no refusal, no audit entry."""
        return await self._read(order_id, None)

    async def _read(self, order_id: str | None, number: str | None) -> OrderRecord | None:
        if order_id is not None:
            if order_id.startswith(SHOPIFY_ORDER_PREFIX):
                return await self._ecommerce.order(order_id)
            return await self._pos.order(order_id)
        assert number is not None
        return await self._ecommerce.order_by_number(number)


def _check_key(order_id: str | None, number: str | None) -> None:
    if (order_id is None) == (number is None):
        raise BadUserInput("Give the order's `id` or its `number`, not both.", reason="ONE_KEY")
    key = order_id if order_id is not None else number
    assert key is not None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        field = "id" if order_id is not None else "number"
        raise BadUserInput(
            f"`{field}` must be 1 to {MAX_KEY_LENGTH} characters.",
            field=field,
            reason="INVALID_KEY",
        )


__all__ = ["OrderLookup", "OrderRead", "OwnerRefs"]
