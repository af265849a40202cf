"""One customer's timeline: orders from every channel (POS receipts and online orders), the
open cart, wishlist items, loyalty movements and after-sales requests (from the CRM, with
their status), newest first, in one paged list.

Paging is the order history's (commerce/orders.py): each source is asked for at most
`first + 1` entries at or before the cursor's time, the answers are merged by (time, kind,
key) descending, and the cursor is the last entry's key. A source that fails is left out of
the page and named in `failures` (its service and code): the timeline is partial, never
failed as a whole. Its entries are not in that page, so a client that pages on past a
failure may miss them; it says so by the failure, and reading again from the top finds them.

Who sees what (docs/security.md "Customer timeline"), decided by `TimelineView`: staff and
the customer themselves see every entry in full; a kiosk the customer handed off to, a
screen in a shop, sees online orders without their lines and total, loyalty movements
without the order and store they came from, and after-sales requests without their
description.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pymongo.errors import PyMongoError

from commerce.cart.model import CartStatus, StoredCart
from commerce.cart.store import CartStore
from commerce.customers.profile import CustomerProfile
from commerce.principal import Principal, PrincipalKind
from commerce.wishlist.model import WishlistItem
from commerce.wishlist.store import WishlistStore
from connectors.errors import UpstreamError
from connectors.ports import (
    AfterSalesPort,
    EcommercePort,
    PosLoyaltyHistory,
    PosPort,
    pos_system,
)
from connectors.records import (
    AfterSalesRecord,
    LoyaltyMovement,
    OrderQuery,
    OrderRecord,
    System,
)


class EntryKind(StrEnum):
    ORDER = "ORDER"
    CART = "CART"
    WISHLIST_ITEM = "WISHLIST_ITEM"
    LOYALTY = "LOYALTY"
    AFTER_SALES_REQUEST = "AFTER_SALES_REQUEST"


class TimelineSource(StrEnum):
    STORE_ORDERS = "STORE_ORDERS"  # the POS's receipts
    ONLINE_ORDERS = "ONLINE_ORDERS"  # the e-commerce system's orders
    CART = "CART"
    WISHLIST = "WISHLIST"
    LOYALTY = "LOYALTY"
    AFTER_SALES = "AFTER_SALES"  # the CRM's after-sales requests (Salesforce Cases)


class TimelineView(StrEnum):
    FULL = "FULL"
    KIOSK = "KIOSK"


def timeline_view(principal: Principal) -> TimelineView:
    """The principal has been let read this customer already (commerce/access.py)."""
    return TimelineView.KIOSK if principal.kind is PrincipalKind.KIOSK else TimelineView.FULL


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    kind: EntryKind
    at: datetime
    key: str  # unique within its kind
    order: OrderRecord | None = None
    cart: StoredCart | None = None
    wishlist_item: WishlistItem | None = None
    movement: LoyaltyMovement | None = None
    request: AfterSalesRecord | None = None

    @property
    def sort_key(self) -> tuple[datetime, str, str]:
        return (self.at, self.kind.value, self.key)


@dataclass(frozen=True, slots=True)
class SourceFailure:
    source: TimelineSource
    service: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class TimelinePage:
    entries: list[TimelineEntry]
    has_next_page: bool
    failures: list[SourceFailure]


class InvalidTimelineCursor(ValueError):
    pass


def encode_timeline_cursor(entry: TimelineEntry) -> str:
    raw = f"{entry.at.isoformat()}|{entry.kind.value}|{entry.key}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_timeline_cursor(cursor: str) -> tuple[datetime, str, str]:
    try:
        at, kind, key = base64.urlsafe_b64decode(cursor).decode().split("|", 2)
        return (datetime.fromisoformat(at), EntryKind(kind).value, key)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidTimelineCursor(cursor) from exc


Read = Callable[[], Awaitable[list[TimelineEntry]]]


class CustomerTimeline:
    def __init__(
        self,
        *,
        pos: PosPort,
        ecommerce: EcommercePort,
        carts: CartStore,
        wishlists: WishlistStore,
        after_sales: AfterSalesPort | None = None,
    ) -> None:
        self._after_sales = after_sales
        self._pos = pos
        self._ecommerce = ecommerce
        self._carts = carts
        self._wishlists = wishlists

    async def page(self, profile: CustomerProfile, first: int, after: str | None) -> TimelinePage:
        bound = decode_timeline_cursor(after) if after else None
        before = bound[0] if bound else None
        limit = first + 1
        reads: dict[TimelineSource, Read] = {
            TimelineSource.STORE_ORDERS: lambda: self._orders(
                self._pos, profile.refs_in(pos_system(self._pos)), limit, before
            ),
            TimelineSource.ONLINE_ORDERS: lambda: self._orders(
                self._ecommerce, profile.refs_in(System.SHOPIFY), limit, before
            ),
            TimelineSource.CART: lambda: self._cart(profile.id),
            TimelineSource.WISHLIST: lambda: self._wishlist(profile.id),
            TimelineSource.LOYALTY: lambda: self._loyalty(profile, limit, before),
        }
        if self._after_sales is not None:
            reads[TimelineSource.AFTER_SALES] = lambda: self._requests(profile, limit, before)
        answers = await asyncio.gather(*(_guarded(source, read) for source, read in reads.items()))
        entries = [entry for found, _ in answers for entry in found]
        failures = [failure for _, failure in answers if failure is not None]
        if bound is not None:
            entries = [entry for entry in entries if entry.sort_key < bound]
        entries.sort(key=lambda entry: entry.sort_key, reverse=True)
        return TimelinePage(entries[:first], len(entries) > first, failures)

    @staticmethod
    async def _orders(
        port: PosPort | EcommercePort, ids: Sequence[str], limit: int, before: datetime | None
    ) -> list[TimelineEntry]:
        if not ids:
            return []
        orders = await port.orders(OrderQuery(tuple(ids), limit, before))
        return [
            TimelineEntry(
                EntryKind.ORDER, o.created_at, f"{o.ref.system.value}:{o.ref.id}", order=o
            )
            for o in orders
        ]

    async def _cart(self, customer_id: str) -> list[TimelineEntry]:
        cart = await self._carts.active_for_customer(customer_id)
        if cart is None or cart.status is not CartStatus.OPEN or not cart.lines:
            return []
        return [TimelineEntry(EntryKind.CART, cart.updated_at, cart.id, cart=cart)]

    async def _wishlist(self, customer_id: str) -> list[TimelineEntry]:
        wishlist = await self._wishlists.get(customer_id)
        return [
            TimelineEntry(EntryKind.WISHLIST_ITEM, item.added_at, item.sku, wishlist_item=item)
            for item in wishlist.items
        ]

    async def _loyalty(
        self, profile: CustomerProfile, limit: int, before: datetime | None
    ) -> list[TimelineEntry]:
        pos = self._pos
        if profile.loyalty is None or not isinstance(pos, PosLoyaltyHistory):
            return []
        movements = await pos.loyalty_movements(profile.loyalty.account.id, limit, before)
        return [
            TimelineEntry(EntryKind.LOYALTY, m.created_at, m.ref.id, movement=m) for m in movements
        ]

    async def _requests(
        self, profile: CustomerProfile, limit: int, before: datetime | None
    ) -> list[TimelineEntry]:
        after_sales = self._after_sales
        if after_sales is None:
            return []
        contacts = profile.refs_in(after_sales.system)
        if not contacts:
            return []
        found = await after_sales.requests_of(contacts, limit, before)
        return [
            TimelineEntry(EntryKind.AFTER_SALES_REQUEST, r.created_at, r.ref.id, request=r)
            for r in found
        ]


async def _guarded(
    source: TimelineSource, read: Read
) -> tuple[list[TimelineEntry], SourceFailure | None]:
    """A source's entries, or its failure: one source down leaves the others' entries."""
    try:
        return await read(), None
    except UpstreamError as exc:
        return [], SourceFailure(source, exc.service, exc.code, exc.public_message)
    except PyMongoError:
        return [], SourceFailure(
            source, "mongodb", "UPSTREAM_UNAVAILABLE", "The database is unavailable."
        )
