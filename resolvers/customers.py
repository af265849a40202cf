"""Customers: the profile merged from CRM, POS and e-commerce, their orders, and the kiosk
hand-off. Who may read whom is commerce.access's table; staff reads are audited."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import Enum

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from commerce.access import (
    CustomerRead,
    handoff_requester,
    signed_in_customer,
)
from commerce.customers import profile as model
from commerce.customers.profile import CustomerProfile, Freshness, ProfileRead
from commerce.orders import InvalidCursor, encode_order_cursor
from connectors import records
from connectors.records import OrderRecord
from engine.context import Info
from engine.errors import BadUserInput
from engine.notices import add_error, add_warning
from engine.operation_memo import OperationMemo
from resolvers.common import ExternalRef, Money, PageInfo, System, check_first
from resolvers.customer_timeline import TimelineConnection, timeline_connection
from resolvers.order_types import (
    Channel,
    OrderFulfillmentStatus,
    OrderLine,
    OrderPaymentStatus,
    PickupStatus,
)
from resolvers.return_requests import ReturnRequest, requests_of, requests_of_order
from resolvers.stores import Store, store_from_record


@strawberry.enum(description="A contact detail that links one person across systems.")
class IdentityField(Enum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"


@strawberry.type(
    description="Several CRM contacts claim this email or phone. They are not merged: the "
    "profile holds this contact's data only, until the duplicate is resolved in the CRM."
)
class IdentityConflict:
    field: IdentityField
    value: str = strawberry.field(description="Normalised: a lower-case email, an E.164 phone.")
    contact_ids: list[strawberry.ID] = strawberry.field(
        description="Every CRM contact claiming it, this customer's own included."
    )

    @classmethod
    def from_model(cls, conflict: model.IdentityConflict) -> IdentityConflict:
        return cls(
            field=IdentityField(conflict.field.value),
            value=conflict.value,
            contact_ids=[strawberry.ID(i) for i in conflict.contact_ids],
        )


@strawberry.type(description="What one upstream system contributed to the profile.")
class ProfileSource:
    system: System
    ids: list[strawberry.ID] = strawberry.field(description="Its records merged in.")
    updated_at: datetime | None = strawberry.field(
        description="The newest change time that system reports for them (its version)."
    )
    fetched_at: datetime = strawberry.field(description="When the gateway read them.")

    @classmethod
    def from_model(cls, source: model.SourceVersion) -> ProfileSource:
        return cls(
            system=System(source.system.value),
            ids=[strawberry.ID(i) for i in source.ids],
            updated_at=source.updated_at,
            fetched_at=source.fetched_at,
        )


@strawberry.type
class Loyalty:
    balance: int
    lifetime_points: int
    tier: str


@strawberry.type
class Order:
    id: strawberry.ID
    number: str | None
    channel: Channel
    created_at: datetime
    status: str | None
    total: Money
    lines: list[OrderLine]
    external_ref: ExternalRef
    pickup_status: PickupStatus | None = strawberry.field(
        description="A click-and-collect order's state, read from the system fulfilling it "
        "(Square's pickup fulfillment, Shopify's fulfillment): PREPARING until the store "
        "marks it READY_FOR_PICKUP, then PICKED_UP. Null for any other order."
    )
    payment_status: OrderPaymentStatus = strawberry.field(
        description="Read from the system that holds the order (Shopify's financial status, "
        "Square's tenders and refunds)."
    )
    fulfillment_status: OrderFulfillmentStatus
    location_id: strawberry.Private[str | None]

    @strawberry.field(
        description="The store of a POS receipt, or the pickup store of a click-and-collect "
        "order; null for an online order delivered."
    )
    async def store(self, info: Info) -> Store | None:
        if self.location_id is None:
            return None
        location = await info.context.services.stores.get(self.location_id)
        return store_from_record(location) if location else None

    @strawberry.field(
        description="Returns its customer started from the app, newest first, each with its "
        "state: what staff receive at the counter (docs/returns.md)."
    )
    async def return_requests(self, info: Info) -> list[ReturnRequest]:
        return await requests_of_order(info, self.id)

    @classmethod
    def from_record(cls, order: OrderRecord) -> Order:
        return cls(
            id=strawberry.ID(order.ref.id),
            number=order.number,
            channel=Channel(order.channel.value),
            created_at=order.created_at,
            status=order.status,
            total=Money.from_record(order.total),
            lines=[
                OrderLine(
                    sku=line.sku,
                    name=line.name,
                    quantity=line.quantity,
                    unit_price=Money.from_record(line.unit_price),
                    total=Money.from_record(line.total),
                )
                for line in order.lines
            ],
            external_ref=ExternalRef.from_record(order.ref),
            pickup_status=PickupStatus(order.pickup.value) if order.pickup else None,
            payment_status=OrderPaymentStatus(order.payment.value),
            fulfillment_status=OrderFulfillmentStatus(order.fulfillment.value),
            location_id=order.location_id,
        )


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Order]:
        return [edge.node for edge in self.edges]


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID
    given_name: str | None
    family_name: str | None
    email: str | None
    phone: str | None = strawberry.field(description="E.164")
    email_opt_in: bool | None
    external_refs: list[ExternalRef]
    loyalty: Loyalty | None
    identity_conflicts: list[IdentityConflict] = strawberry.field(
        description="CRM duplicates: other contacts claiming this customer's email or phone."
    )
    sources: list[ProfileSource] = strawberry.field(
        description="Each system's part in this profile, its version and when it was read. "
        "Field precedence: docs/customer-profile.md."
    )
    profile: strawberry.Private[CustomerProfile]

    @classmethod
    def from_profile(cls, profile: CustomerProfile) -> Customer:
        loyalty = profile.loyalty
        return cls(
            id=strawberry.ID(profile.id),
            given_name=profile.given_name,
            family_name=profile.family_name,
            email=profile.email,
            phone=profile.phone,
            email_opt_in=profile.email_opt_in,
            external_refs=[ExternalRef.from_record(ref) for ref in profile.external_refs],
            loyalty=None
            if loyalty is None
            else Loyalty(
                balance=loyalty.balance, lifetime_points=loyalty.lifetime_points, tier=loyalty.tier
            ),
            identity_conflicts=[IdentityConflict.from_model(c) for c in profile.identity_conflicts],
            sources=[ProfileSource.from_model(source) for source in profile.sources],
            profile=profile,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Customer | None:
        """`customer(id:)` and a router's `_entities` both come here: one authorization."""
        return await info.context.services.customer_reads.read(
            info.context.principal, id, lambda: _read(info, id), lambda: cls.load(info, id)
        )

    @classmethod
    async def load(cls, info: Info, customer_id: str) -> Customer | None:
        read = await info.context.loaders.customer_by_id.load(customer_id)
        if read is None:
            return None
        report_freshness(info.path.as_list(), read)
        return cls.from_profile(read.profile)

    @strawberry.field(
        description="POS receipts and online orders, newest first; `channel` keeps one of "
        "them (STORE: POS receipts, ONLINE: online orders). A cursor is valid with or "
        "without the filter."
    )
    async def orders(
        self, info: Info, first: int = 10, after: str | None = None, channel: Channel | None = None
    ) -> OrderConnection | None:
        check_first(first, info.context.services.settings.max_page_size)
        only = None if channel is None else records.Channel(channel.value)
        try:
            page = await info.context.services.orders.page(self.profile, first, after, only)
        except InvalidCursor as exc:
            raise BadUserInput("`after` is not a cursor this API gave out.", field="after") from exc
        edges = [
            OrderEdge(cursor=encode_order_cursor(o), node=Order.from_record(o)) for o in page.orders
        ]
        return OrderConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else after
            ),
        )

    @strawberry.field(
        description="Orders from every channel, the open cart, wishlist items and loyalty "
        "movements in one list, newest first. Staff and the customer see every entry in "
        "full; a kiosk after hand-off sees online orders without lines and total, and "
        "loyalty movements without their order and store (docs/security.md). A source that "
        "fails leaves the others' entries, its error at this path and in `missingSources`."
    )
    async def timeline(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> TimelineConnection:
        return await timeline_connection(info, self.profile, first, after)

    @strawberry.field(
        description="Returns the customer started from the app, newest first (at most "
        "100), each with its state; a received one with its return (docs/returns.md)."
    )
    async def return_requests(self, info: Info) -> list[ReturnRequest]:
        return await requests_of(info, self.profile.id)


def report_freshness(path: list[str | int], read: ProfileRead) -> None:
    """Nothing stale is served as fresh (docs/customer-profile.md "What a read says")."""
    age = read.age_seconds(datetime.now(UTC))
    if read.freshness is Freshness.STALE:
        failure = read.failure
        service = failure.service if failure is not None else None
        add_error(
            path,
            "STALE_DATA",
            f"A cached copy {age} s old: the {service or 'upstream'} service did not give a "
            "current one.",
            ageSeconds=age,
            service=service,
        )
    elif read.freshness is Freshness.REVALIDATING:
        add_warning(
            path,
            "STALE_WHILE_REVALIDATE",
            f"A cached copy {age} s old; a refresh is under way.",
            ageSeconds=age,
        )
    if not read.cache_available:
        add_warning(
            path,
            "CACHE_UNAVAILABLE",
            "The profile cache is unavailable: read from the upstream systems directly.",
        )


# The fields a staff read selects, per query: worked out once, not on every read, as the
# audit entry waits for them (engine/operation_memo.py).
_AUDITED_FIELDS: OperationMemo[tuple[str, ...]] = OperationMemo()


def _read(info: Info, customer_id: str) -> CustomerRead:
    operation = info.operation
    path = info.path.as_list()
    # every item of a list (`_entities`) selects what its field node selects
    where = tuple(key for key in path if isinstance(key, str))
    return CustomerRead(
        customer_id=customer_id,
        operation_name=operation.name.value if operation.name else None,
        operation_type=operation.operation.value,
        path=".".join(str(key) for key in path),
        fields=_AUDITED_FIELDS.get(
            operation, where, lambda: tuple(sorted(customer_fields(info.selected_fields)))
        ),
    )


def customer_fields(selections: Iterable[Selection]) -> set[str]:
    """The Customer fields selected under this field, through fragments (`_entities` selects
    them in `... on Customer`)."""
    names: set[str] = set()
    for selection in selections:
        if isinstance(selection, SelectedField):
            names |= _fields_of(selection.selections)
    return names


def _fields_of(selections: Iterable[Selection]) -> set[str]:
    names: set[str] = set()
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name != "__typename":
                names.add(selection.name)
        elif selection.type_condition in (None, "Customer"):
            names |= _fields_of(selection.selections)
    return names


@strawberry.type
class CustomerQueries:
    @strawberry.field(
        description="The signed-in customer's own profile: a customer token's, or that of "
        "the customer who handed off to this kiosk. UNAUTHENTICATED without one."
    )
    async def me(self, info: Info) -> Customer | None:
        return await Customer.load(info, signed_in_customer(info.context.principal))

    @strawberry.field(
        description="A customer by their CRM contact id, for staff (every read is audited); "
        "null when unknown. A customer reaches only their own id: any other is NOT_FOUND."
    )
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await Customer.resolve_reference(info, id)


@strawberry.enum
class KioskHandoffErrorCode(Enum):
    STORE_NOT_FOUND = "STORE_NOT_FOUND"


@strawberry.type
class KioskHandoffUserError:
    field: list[str] | None = strawberry.field(description="Path to the input at fault.")
    message: str
    code: KioskHandoffErrorCode


@strawberry.type(description="A customer's identity lent to one kiosk of one store.")
class KioskHandoff:
    token: str = strawberry.field(
        description="Shown to the kiosk, which sends it as the X-Handoff-Token header with "
        "its own device token. The first kiosk of the store to do so holds it until it expires."
    )
    store_id: strawberry.ID
    expires_at: datetime


@strawberry.type
class KioskHandoffCreatePayload:
    handoff: KioskHandoff | None
    user_errors: list[KioskHandoffUserError]


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(
        description="Lend the signed-in customer's identity to a kiosk of this store for a "
        "few minutes (their cart, wishlist and `me` there). Null with UNAUTHENTICATED or "
        "FORBIDDEN without a customer token."
    )
    async def kiosk_handoff_create(
        self, info: Info, store_id: strawberry.ID
    ) -> KioskHandoffCreatePayload | None:
        customer_id = handoff_requester(info.context.principal)
        services = info.context.services
        if await services.stores.get(store_id) is None or store_id in (
            await services.stores.warehouse_ids()
        ):
            error = KioskHandoffUserError(
                field=["storeId"],
                message="No store has this id.",
                code=KioskHandoffErrorCode.STORE_NOT_FOUND,
            )
            return KioskHandoffCreatePayload(handoff=None, user_errors=[error])
        handoff = await services.auth.handoffs.create(customer_id, store_id)
        return KioskHandoffCreatePayload(
            handoff=KioskHandoff(
                token=handoff.token,
                store_id=strawberry.ID(handoff.store_id),
                expires_at=handoff.expires_at,
            ),
            user_errors=[],
        )
