"""The checks every return and every return request makes of the lines it asks for: each
SKU is on the order, no more units than are left of it, and something was paid on the
order through a system that refunds (docs/returns.md "What happens on each failure")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from commerce.order_lookup import SHOPIFY_ORDER_PREFIX
from commerce.returns.model import ReturnError, ReturnErrorCode, ReturnRefused
from commerce.returns.pricing import ordered_units
from connectors.ports import EcommercePort, PosPort
from connectors.records import OrderRecord


class AskedLine(Protocol):
    @property
    def sku(self) -> str: ...

    @property
    def quantity(self) -> int: ...


async def read_order(pos: PosPort, ecommerce: EcommercePort, order_id: str) -> OrderRecord:
    """The order from the system holding it, or ORDER_NOT_FOUND."""
    if order_id.startswith(SHOPIFY_ORDER_PREFIX):
        order = await ecommerce.order(order_id)
    else:
        order = await pos.order(order_id)
    if order is None:
        raise order_not_found()
    return order


def order_not_found() -> ReturnRefused:
    return ReturnRefused(
        ReturnError(ReturnErrorCode.ORDER_NOT_FOUND, "No order has this id.", ("orderId",))
    )


def check_lines(order: OrderRecord, left: dict[str, int], lines: Sequence[AskedLine]) -> None:
    """LINE_NOT_IN_ORDER or QUANTITY_EXCEEDED at the first line at fault; `left`: what is
    left to return of each SKU (OrderReturns.left)."""
    ordered = ordered_units(order)
    asking: dict[str, int] = {}
    for index, line in enumerate(lines):
        asking[line.sku] = asking.get(line.sku, 0) + line.quantity
        if line.sku not in ordered:
            raise ReturnRefused(
                ReturnError(
                    ReturnErrorCode.LINE_NOT_IN_ORDER,
                    f"{line.sku} is not on this order.",
                    ("lines", str(index), "sku"),
                )
            )
        can = max(0, left.get(line.sku, 0))
        if asking[line.sku] > can:
            raise ReturnRefused(
                ReturnError(
                    ReturnErrorCode.QUANTITY_EXCEEDED,
                    f"Only {can} of {line.sku} are left to return on this order.",
                    ("lines", str(index), "quantity"),
                )
            )


def payment_of(order: OrderRecord) -> str:
    """The payment a refund goes back to, or NOT_PAID."""
    payment_id = next(iter(order.payment_ids or order.shop_payment_ids), None)
    if payment_id is None:
        raise ReturnRefused(
            ReturnError(
                ReturnErrorCode.NOT_PAID,
                "Nothing was paid on this order through a system omnigate refunds to.",
                ("orderId",),
            )
        )
    return payment_id
