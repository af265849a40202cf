"""Customers: the profile merged from CRM, POS and e-commerce, and their orders."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from connectors.records import OrderRecord
from gateway.context import Info
from gateway.errors import BadUserInput
from gateway.services.orders import InvalidCursor, encode_order_cursor
from gateway.services.profile import CustomerProfile
from resolvers.common import ExternalRef, Money, PageInfo, check_first
from resolvers.stores import Store, store_from_record


@strawberry.enum
class Channel(Enum):
    STORE = "STORE"
    ONLINE = "ONLINE"


@strawberry.type
class Loyalty:
    balance: int
    lifetime_points: int
    tier: str


@strawberry.type
class OrderLine:
    sku: str | None
    name: str
    quantity: int
    unit_price: Money
    total: Money


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
    location_id: strawberry.Private[str | None]

    @strawberry.field(description="The store of a POS receipt; null for online orders.")
    async def store(self, info: Info) -> Store | None:
        if self.location_id is None:
            return None
        location = await info.context.services.stores.get(self.location_id)
        return store_from_record(location) if location else None

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
            profile=profile,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Customer | None:
        read = await info.context.loaders.customer_by_id.load(id)
        return cls.from_profile(read.profile) if read else None

    @strawberry.field(description="POS receipts and online orders, newest first.")
    async def orders(
        self, info: Info, first: int = 10, after: str | None = None
    ) -> OrderConnection | None:
        check_first(first)
        try:
            page = await info.context.services.orders.page(self.profile, first, after)
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


@strawberry.type
class CustomerQueries:
    @strawberry.field(description="A customer by their CRM contact id; null when unknown.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await Customer.resolve_reference(info, id)
