"""Vendor-neutral records that every adapter returns and the gateway consumes.

An adapter translates its vendor's payloads into these and nothing else crosses the port:
the gateway never sees a Square, Shopify, Salesforce or HubSpot shape, so a second vendor is a new
adapter, not a change to the resolvers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import msgspec


class System(StrEnum):
    """The upstream systems an entity can come from (the `system` of an ExternalRef)."""

    SQUARE = "SQUARE"
    SHOPIFY = "SHOPIFY"
    SALESFORCE = "SALESFORCE"
    HUBSPOT = "HUBSPOT"


class PickupState(StrEnum):
    """Where a click-and-collect order is, as the system fulfilling it says (Square's
    pickup fulfillment state, Shopify's fulfillment display status)."""

    PREPARING = "PREPARING"  # placed, not ready yet
    READY_FOR_PICKUP = "READY_FOR_PICKUP"
    PICKED_UP = "PICKED_UP"
    CANCELED = "CANCELED"


class OrderPaymentState(StrEnum):
    """How far an order is paid, in Shopify's words (OrderDisplayFinancialStatus), which a
    Square order's tenders, amount due and refunds map onto."""

    PENDING = "PENDING"  # nothing paid yet (a store order waiting for the terminal)
    AUTHORIZED = "AUTHORIZED"  # the card is held, not charged
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    VOIDED = "VOIDED"
    UNKNOWN = "UNKNOWN"  # a state the system reports that omnigate does not know


class FulfillmentState(StrEnum):
    """How far an order's goods have reached the customer, in Shopify's words
    (OrderDisplayFulfillmentStatus, reduced); a Square order's state and fulfillments map
    onto it (a completed receipt was handed over at the till)."""

    UNFULFILLED = "UNFULFILLED"
    IN_PROGRESS = "IN_PROGRESS"
    PARTIALLY_FULFILLED = "PARTIALLY_FULFILLED"
    FULFILLED = "FULFILLED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"


class Channel(StrEnum):
    """Where an order was placed."""

    STORE = "STORE"
    ONLINE = "ONLINE"


@dataclass(frozen=True, slots=True)
class ExternalRef:
    system: System
    id: str


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


class ProductRecord(msgspec.Struct, frozen=True):
    """A product as the e-commerce system lists it. A frozen msgspec Struct rather than a
    frozen dataclass: a catalog page maps 20 at a time, and a frozen dataclass's
    `__init__` (one `object.__setattr__` per field) costs several times as much."""

    sku: str
    name: str
    description: str
    price: Money
    image_urls: tuple[str, ...] = ()
    category: str | None = None
    external_refs: tuple[ExternalRef, ...] = ()


@dataclass(frozen=True, slots=True)
class ProductPage:
    """One page of a catalog search; `end_cursor` is the vendor's own opaque cursor."""

    items: list[ProductRecord]
    end_cursor: str | None
    has_next_page: bool


@dataclass(frozen=True, slots=True)
class Address:
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class OpeningPeriod:
    """One opening period in the location's own time zone; `day` is MON..SUN."""

    day: str
    opens: str  # "HH:MM"
    closes: str  # "HH:MM"


@dataclass(frozen=True, slots=True)
class LocationRecord:
    """A store or a warehouse, as the POS knows it."""

    id: str
    name: str
    address: Address
    timezone: str
    opening_hours: tuple[OpeningPeriod, ...]
    is_warehouse: bool = False
    latitude: float | None = None
    longitude: float | None = None
    phone: str | None = None
    external_refs: tuple[ExternalRef, ...] = ()


class StockLevel(msgspec.Struct, frozen=True, gc=False):
    """Sellable quantity of one SKU at one location (absent from a result means zero).

    A frozen msgspec Struct, not a frozen dataclass like the other records: a stock read
    makes one per SKU and location (about 240 for a page of 20 products), and building one
    costs a third of a named tuple's and a sixth of a frozen dataclass's. Strings and an int
    only, so no cycle can form: the garbage collector need not track them."""

    sku: str
    location_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class CustomerIdentity:
    """A person as one system knows them; contact details exactly as that system stores them."""

    ref: ExternalRef
    given_name: str | None
    family_name: str | None
    email: str | None
    phone: str | None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    email_opt_in: bool | None = None


@dataclass(frozen=True, slots=True)
class LoyaltyAccountRecord:
    ref: ExternalRef
    customer_ref: ExternalRef
    balance: int
    lifetime_points: int


@dataclass(frozen=True, slots=True)
class LoyaltyMovement:
    """One change to a loyalty account's points as the POS records it (Square's loyalty
    event): points earned (positive) or spent, expired, adjusted down (negative)."""

    ref: ExternalRef
    account_id: str
    kind: str  # the vendor's event type, e.g. ACCUMULATE_POINTS, ADJUST_POINTS
    points: int
    created_at: datetime
    order_id: str | None = None
    location_id: str | None = None


@dataclass(frozen=True, slots=True)
class LoyaltyPointsChange:
    """Points added to (positive) or taken from (negative) a loyalty account by one call."""

    account_id: str
    points: int
    event_id: str


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str | None
    name: str
    quantity: int
    unit_price: Money
    total: Money


@dataclass(frozen=True, slots=True)
class OrderRecord:
    ref: ExternalRef
    channel: Channel
    created_at: datetime
    total: Money
    lines: tuple[OrderLine, ...] = ()
    location_id: str | None = None
    customer_ref: ExternalRef | None = None
    status: str | None = None
    number: str | None = None
    # a click-and-collect order's state; None for any other order. `location_id` is then
    # its pickup store.
    pickup: PickupState | None = None
    payment: OrderPaymentState = OrderPaymentState.UNKNOWN
    fulfillment: FulfillmentState = FulfillmentState.UNKNOWN
    # the payments that paid it, in the payments system (Square payment ids): a Square
    # order's tenders, a Shopify order's successful sale transactions through Square
    payment_ids: tuple[str, ...] = ()
    # what the online store's own gateway took (Shopify Payments): its successful sale
    # transactions, by Shopify transaction id; refunded through Shopify, not Square
    shop_payment_ids: tuple[str, ...] = ()
    # who rang a store sale up, as the POS names its staff member (Shopify POS)
    staff_name: str | None = None


@dataclass(frozen=True, slots=True)
class OrderLineDraft:
    """One line of an order to place: the SKU, how many, and the unit price the shopper saw."""

    sku: str
    quantity: int
    unit_price: Money


@dataclass(frozen=True, slots=True)
class OrderDraft:
    """An order to place in one system, exactly once per `idempotency_key`.

    `customer_refs` holds the shopper's ids in every system they are known to; each adapter
    picks its own system's id, and places a guest order when there is none. `location_id`
    is the store (the POS location id omnigate uses for stores): where a POS order is rung
    up, and the pickup store of a click-and-collect order. `discount` is the one
    order-level amount the gateway's promotion engine computed; line prices are before it.
    """

    idempotency_key: str
    customer_refs: tuple[ExternalRef, ...]
    lines: tuple[OrderLineDraft, ...]
    currency: str
    location_id: str | None
    pickup: bool
    discount: Money | None = None
    note: str | None = None
    # set when the order is placed already paid: what pays it
    payment: OrderPayment | None = None

    def customer_id(self, system: System) -> str | None:
        """The shopper's id in `system`, or None for a guest there."""
        return next((ref.id for ref in self.customer_refs if ref.system == system), None)


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Newest-first order read for some of one system's customers.

    `created_before` is inclusive: the gateway pages a merged stream across systems by the
    (created_at, id) of the last order it returned, so each adapter only needs a time bound.
    """

    customer_ids: tuple[str, ...]
    limit: int
    created_before: datetime | None = None


class PaymentStatus(StrEnum):
    """A card payment's state as the payments system reports it."""

    APPROVED = "APPROVED"  # authorised: the money is held, not taken
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"  # captured: the money is taken
    CANCELED = "CANCELED"  # voided: the hold is released, nothing taken
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A card payment to authorise (`autocomplete` false) exactly once per key.

    `source_token` is the card token the shopper's device got from the payments system's
    own SDK (Square's Web Payments SDK); omnigate never sees a card number.
    """

    idempotency_key: str
    source_token: str
    amount: Money
    reference_id: str | None = None
    note: str | None = None
    location_id: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    ref: ExternalRef
    status: PaymentStatus
    amount: Money
    gateway: str  # the name an order's transaction gives the payment's processor
    order_id: str | None = None  # the payments system's own order for it
    card_brand: str | None = None
    last_4: str | None = None
    reference_id: str | None = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """Money given back on a payment, exactly once per key (the same key and request answer
    the first refund)."""

    idempotency_key: str
    payment_id: str
    amount: Money
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RefundRecord:
    ref: ExternalRef
    payment_id: str
    amount: Money
    status: str  # the payments system's word: PENDING, COMPLETED, REJECTED, FAILED


@dataclass(frozen=True, slots=True)
class Restock:
    """Units put back on sale at a location, exactly once per key."""

    idempotency_key: str
    location_id: str
    quantities: tuple[tuple[str, int], ...]  # (sku, units)


@dataclass(frozen=True, slots=True)
class OrderPayment:
    """A payment the placed order records as paid (Shopify: a successful SALE transaction)."""

    gateway: str
    payment_id: str
    amount: Money


class AfterSalesKind(StrEnum):
    """What an after-sales request is about."""

    DAMAGED = "DAMAGED"  # an item arrived or was found damaged or faulty
    MISSING = "MISSING"  # an item of the order did not arrive
    QUESTION = "QUESTION"  # anything else about an order or a product


class AfterSalesStatus(StrEnum):
    """Where the CRM's agents are with a request (Salesforce's Case Status picklist)."""

    NEW = "NEW"
    WORKING = "WORKING"
    ESCALATED = "ESCALATED"
    CLOSED = "CLOSED"
    UNKNOWN = "UNKNOWN"  # a status the CRM reports that omnigate does not know


class AfterSalesChannel(StrEnum):
    """Who opened the request: the customer in the app, or staff in a store."""

    APP = "APP"
    STORE = "STORE"


@dataclass(frozen=True, slots=True)
class AfterSalesDraft:
    """A request to open, once per `key` (unique across customers: the caller derives it)."""

    key: str
    customer_ref: ExternalRef  # the customer's record in the CRM
    kind: AfterSalesKind
    description: str
    channel: AfterSalesChannel
    order_id: str | None = None
    sku: str | None = None


@dataclass(frozen=True, slots=True)
class AfterSalesRecord:
    ref: ExternalRef
    number: str | None  # what the CRM shows people (Salesforce's CaseNumber)
    customer_ref: ExternalRef | None
    kind: AfterSalesKind | None  # None: opened in the CRM with a type omnigate does not know
    status: AfterSalesStatus
    description: str | None
    channel: AfterSalesChannel | None
    order_id: str | None
    sku: str | None
    created_at: datetime
    updated_at: datetime | None
    closed_at: datetime | None
    key: str | None  # None: opened in the CRM itself, not through omnigate
