"""`Customer.timeline`: a customer's orders on every channel, open cart, wishlist, loyalty
movements and after-sales requests in one list, newest first (commerce/customers/
timeline.py). Who reaches the customer was decided by `customer(id:)` or `me`; what each
principal sees of the entries is the domain's `TimelineView`; a source that fails is an
error at this field's path and a `missingSources` entry, beside the other sources' entries."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from commerce.customers.profile import CustomerProfile
from commerce.customers.timeline import (
    EntryKind,
    InvalidTimelineCursor,
    TimelineEntry,
    TimelineView,
    encode_timeline_cursor,
    timeline_view,
)
from connectors import records
from engine.context import Info
from engine.errors import BadUserInput
from engine.notices import add_error
from resolvers.after_sales import AfterSalesRequest
from resolvers.common import Money, PageInfo, check_first
from resolvers.order_types import Channel, OrderLine, PickupStatus
from resolvers.stores import Store, store_from_record


@strawberry.enum(description="Where a timeline's entries come from.")
class TimelineSource(Enum):
    STORE_ORDERS = "STORE_ORDERS"
    ONLINE_ORDERS = "ONLINE_ORDERS"
    CART = "CART"
    WISHLIST = "WISHLIST"
    LOYALTY = "LOYALTY"
    AFTER_SALES = "AFTER_SALES"


@strawberry.interface(description="One thing that happened in a customer's relationship.")
class TimelineItem:
    at: datetime


@strawberry.type(
    description="An order, on any channel. A kiosk sees another channel's order (ONLINE) "
    "without its lines and total: `detailsHidden`."
)
class TimelineOrder(TimelineItem):
    id: strawberry.ID
    number: str | None
    channel: Channel
    status: str | None
    pickup_status: PickupStatus | None
    total: Money | None
    lines: list[OrderLine] | None
    details_hidden: bool
    location_id: strawberry.Private[str | None]

    @strawberry.field(description="The store of a receipt, or a click-and-collect order's.")
    async def store(self, info: Info) -> Store | None:
        if self.location_id is None:
            return None
        location = await info.context.services.stores.get(self.location_id)
        return store_from_record(location) if location else None


@strawberry.type(description="The customer's open cart, at its last change.")
class TimelineCart(TimelineItem):
    cart_id: strawberry.ID
    line_count: int
    quantity: int


@strawberry.type(description="A product put on the wishlist.")
class TimelineWishlistItem(TimelineItem):
    sku: str


@strawberry.type(
    description="Loyalty points earned (positive) or spent, expired, taken back (negative). "
    "A kiosk sees neither the order nor the store they came from."
)
class TimelineLoyaltyMovement(TimelineItem):
    id: strawberry.ID
    kind: str = strawberry.field(description="The POS's event type, e.g. ACCUMULATE_POINTS.")
    points: int
    order_id: strawberry.ID | None
    store_id: strawberry.ID | None


@strawberry.type(
    description="An after-sales request, with its status as the CRM has it now. A kiosk "
    "sees it without its description."
)
class TimelineAfterSalesRequest(TimelineItem):
    request: AfterSalesRequest


TIMELINE_ITEM_TYPES = [
    TimelineOrder,
    TimelineCart,
    TimelineWishlistItem,
    TimelineLoyaltyMovement,
    TimelineAfterSalesRequest,
]


@strawberry.type
class TimelineEdge:
    cursor: str
    node: TimelineItem


@strawberry.type
class TimelineConnection:
    edges: list[TimelineEdge]
    page_info: PageInfo
    missing_sources: list[TimelineSource] = strawberry.field(
        description="Sources that failed for this page (each also an error at this field's "
        "path, with its service): their entries are not in it."
    )

    @strawberry.field
    def nodes(self) -> list[TimelineItem]:
        return [edge.node for edge in self.edges]


async def timeline_connection(
    info: Info, profile: CustomerProfile, first: int, after: str | None
) -> TimelineConnection:
    check_first(first)
    try:
        page = await info.context.services.timeline.page(profile, first, after)
    except InvalidTimelineCursor as exc:
        raise BadUserInput("`after` is not a cursor this API gave out.", field="after") from exc
    path = info.path.as_list()
    for failure in page.failures:
        add_error(
            path, failure.code, failure.message, service=failure.service, source=failure.source
        )
    view = timeline_view(info.context.principal)
    edges = [
        TimelineEdge(cursor=encode_timeline_cursor(entry), node=_node(entry, view))
        for entry in page.entries
    ]
    return TimelineConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else after
        ),
        missing_sources=[TimelineSource(failure.source.value) for failure in page.failures],
    )


def _node(entry: TimelineEntry, view: TimelineView) -> TimelineItem:
    if entry.kind is EntryKind.ORDER and entry.order is not None:
        return _order(entry.order, view)
    if entry.kind is EntryKind.CART and entry.cart is not None:
        cart = entry.cart
        return TimelineCart(
            at=entry.at,
            cart_id=strawberry.ID(cart.id),
            line_count=len(cart.lines),
            quantity=sum(line.quantity for line in cart.lines),
        )
    if entry.kind is EntryKind.LOYALTY and entry.movement is not None:
        movement = entry.movement
        kiosk = view is TimelineView.KIOSK
        return TimelineLoyaltyMovement(
            at=entry.at,
            id=strawberry.ID(movement.ref.id),
            kind=movement.kind,
            points=movement.points,
            order_id=None
            if kiosk or movement.order_id is None
            else strawberry.ID(movement.order_id),
            store_id=None
            if kiosk or movement.location_id is None
            else strawberry.ID(movement.location_id),
        )
    if entry.kind is EntryKind.AFTER_SALES_REQUEST and entry.request is not None:
        return TimelineAfterSalesRequest(
            at=entry.at,
            request=AfterSalesRequest.from_record(
                entry.request, hide_description=view is TimelineView.KIOSK
            ),
        )
    return TimelineWishlistItem(at=entry.at, sku=entry.key)


def _order(order: records.OrderRecord, view: TimelineView) -> TimelineOrder:
    hidden = view is TimelineView.KIOSK and order.channel is not records.Channel.STORE
    return TimelineOrder(
        at=order.created_at,
        id=strawberry.ID(order.ref.id),
        number=order.number,
        channel=Channel(order.channel.value),
        status=order.status,
        pickup_status=PickupStatus(order.pickup.value) if order.pickup else None,
        total=None if hidden else Money.from_record(order.total),
        lines=None
        if hidden
        else [
            OrderLine(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=Money.from_record(line.unit_price),
                total=Money.from_record(line.total),
            )
            for line in order.lines
        ],
        details_hidden=hidden,
        location_id=order.location_id,
    )
