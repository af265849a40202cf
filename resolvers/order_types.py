"""The order types the profile's `orders` and the timeline share: where an order was
placed, a click-and-collect order's state, and its lines."""

from __future__ import annotations

from enum import Enum

import strawberry

from resolvers.common import Money


@strawberry.enum
class Channel(Enum):
    STORE = "STORE"
    ONLINE = "ONLINE"


@strawberry.enum(
    description="Where a click-and-collect order is, as the system fulfilling it says."
)
class PickupStatus(Enum):
    PREPARING = "PREPARING"
    READY_FOR_PICKUP = "READY_FOR_PICKUP"
    PICKED_UP = "PICKED_UP"
    CANCELED = "CANCELED"


@strawberry.type
class OrderLine:
    sku: str | None
    name: str
    quantity: int
    unit_price: Money
    total: Money
