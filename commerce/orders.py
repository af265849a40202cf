"""One newest-first order stream across POS receipts and online orders.

Each system is asked for at most `first + 1` orders created at or before the cursor's
time, the answers are merged by (created_at, system, id) descending, and the cursor is
the key of the last order returned. So a page costs one call per system whatever the
page number, and no order is skipped or repeated between pages.

A channel filter asks only the system holding that channel's orders (STORE: the POS,
ONLINE: the e-commerce system) and keeps only orders of that channel. The cursor is the
same key with or without it, so a cursor from the merged stream continues a filtered one
from the same point, and the other way round.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from commerce.customers.profile import CustomerProfile
from connectors.ports import EcommercePort, PosPort, pos_system
from connectors.records import Channel, OrderQuery, OrderRecord, System

OrderKey = tuple[datetime, str, str]


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[OrderRecord]
    has_next_page: bool


def order_key(order: OrderRecord) -> OrderKey:
    return (order.created_at, order.ref.system.value, order.ref.id)


def encode_order_cursor(order: OrderRecord) -> str:
    created_at, system, order_id = order_key(order)
    raw = f"{created_at.isoformat()}|{system}|{order_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_order_cursor(cursor: str) -> OrderKey:
    try:
        created_at, system, order_id = base64.urlsafe_b64decode(cursor).decode().split("|", 2)
        return (datetime.fromisoformat(created_at), System(system).value, order_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor(cursor) from exc


class OrderHistory:
    def __init__(self, *, pos: PosPort, ecommerce: EcommercePort) -> None:
        self._pos = pos
        self._ecommerce = ecommerce

    async def page(
        self,
        profile: CustomerProfile,
        first: int,
        after: str | None,
        channel: Channel | None = None,
    ) -> OrderPage:
        bound = decode_order_cursor(after) if after else None
        created_before = bound[0] if bound else None
        reads = []
        sources = (
            (self._pos, pos_system(self._pos), Channel.STORE),
            (self._ecommerce, System.SHOPIFY, Channel.ONLINE),
        )
        for port, system, holds in sources:
            ids = profile.refs_in(system)
            if ids and channel in (None, holds):
                reads.append(port.orders(OrderQuery(ids, first + 1, created_before)))
        merged = [order for result in await asyncio.gather(*reads) for order in result]
        if channel is not None:
            merged = [order for order in merged if order.channel is channel]
        if bound is not None:
            merged = [order for order in merged if order_key(order) < bound]
        merged.sort(key=order_key, reverse=True)
        return OrderPage(merged[:first], has_next_page=len(merged) > first)
