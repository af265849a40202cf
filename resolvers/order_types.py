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


@strawberry.enum(
    description="How far an order is paid, in the words of Shopify's financial status; a "
    "Square order's tenders, amount due and refunds map onto it. UNKNOWN: a state the "
    "system reports that omnigate does not know."
)
class OrderPaymentStatus(Enum):
    PENDING = "PENDING"
    AUTHORIZED = "AUTHORIZED"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    VOIDED = "VOIDED"
    UNKNOWN = "UNKNOWN"


@strawberry.enum(
    description="How far an order's goods have reached the customer: Shopify's fulfilment "
    "status, or a Square order's fulfilments (a receipt completed at the till is FULFILLED)."
)
class OrderFulfillmentStatus(Enum):
    UNFULFILLED = "UNFULFILLED"
    IN_PROGRESS = "IN_PROGRESS"
    PARTIALLY_FULFILLED = "PARTIALLY_FULFILLED"
    FULFILLED = "FULFILLED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"


@strawberry.type
class OrderLine:
    sku: str | None
    name: str
    quantity: int
    unit_price: Money
    total: Money
