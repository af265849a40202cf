"""A cart as the domain sees it: its lines, status and fulfilment, read from its MongoDB
document (commerce/cart/store.py writes it)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, overload

from commerce.mongo_dates import utc
from connectors.records import Money

Document = dict[str, Any]


class CartStatus(StrEnum):
    OPEN = "OPEN"
    CHECKING_OUT = "CHECKING_OUT"  # frozen while its order is placed upstream
    CHECKED_OUT = "CHECKED_OUT"
    MERGED = "MERGED"  # a guest cart folded into a customer's at login


class FulfillmentType(StrEnum):
    DELIVERY = "DELIVERY"
    PICKUP = "PICKUP"


@dataclass(frozen=True, slots=True)
class StoredLine:
    id: str
    sku: str
    quantity: int
    added_unit_price: Money
    added_at: datetime
    # added at a recent price while the price source could not be read: checkout holds
    # today's price against it (docs/cart.md "When prices cannot be read")
    needs_repricing: bool = False


@dataclass(frozen=True, slots=True)
class StoredCart:
    id: str
    version: int
    status: CartStatus
    customer_id: str | None
    guest_token_sha256: str | None
    lines: Sequence[StoredLine]  # a StoredLines when read from MongoDB
    promo_codes: tuple[str, ...]
    fulfillment: FulfillmentType
    pickup_store_id: str | None
    checkout_key: str | None
    created_at: datetime
    updated_at: datetime
    # loyalty points the shopper spends on this cart, and the channel they were applied
    # on: only a checkout on that channel spends them (docs/offers.md "Loyalty")
    loyalty_points: int = 0
    loyalty_channel: str | None = None

    def line(self, line_id: str) -> StoredLine | None:
        return next((line for line in self.lines if line.id == line_id), None)

    def quantity_of(self, sku: str) -> int:
        return sum(line.quantity for line in self.lines if line.sku == sku)

    def points_for(self, channel: str) -> int:
        """The points a cart priced or checked out on `channel` spends: those applied on
        that channel, none applied on another (nor any stored before channels were)."""
        return self.loyalty_points if self.loyalty_channel == channel else 0

    @classmethod
    def from_document(cls, doc: Document, *, lines_read: bool = True) -> StoredCart:
        """`lines_read=False` for a document read without its lines (a write whose answer
        shows none, commerce/cart/store.py): its lines then refuse to be used."""
        fulfillment = doc.get("fulfillment") or {}
        return cls(
            id=doc["_id"],
            version=doc["version"],
            status=CartStatus(doc["status"]),
            customer_id=doc.get("customer_id"),
            guest_token_sha256=doc.get("guest_token_sha256"),
            lines=StoredLines(doc.get("lines", ())) if lines_read else UNREAD_LINES,
            promo_codes=tuple(doc.get("promo_codes", [])),
            fulfillment=FulfillmentType(fulfillment.get("type", FulfillmentType.DELIVERY)),
            pickup_store_id=fulfillment.get("store_id"),
            checkout_key=doc.get("checkout_key"),
            created_at=utc(doc["created_at"]),
            updated_at=utc(doc["updated_at"]),
            loyalty_points=doc.get("loyalty_points", 0),
            loyalty_channel=doc.get("loyalty_channel"),
        )


class StoredLines(Sequence[StoredLine]):
    """A cart's lines, made from their documents on first use. Most writes answer with the
    cart's version and totals only, and a 50-line cart costs ~0.2 ms of CPU to turn into
    lines (bench/README.md, cart writes): a cart read for its status or version need not
    pay it. Immutable, as the tuple it stands for, and equal to one with the same lines."""

    __slots__ = ("_documents", "_lines")

    def __init__(self, documents: Iterable[Document]) -> None:
        self._documents: Iterable[Document] | None = documents
        self._lines: tuple[StoredLine, ...] | None = None

    @property
    def _made(self) -> tuple[StoredLine, ...]:
        if self._lines is None:
            self._lines = tuple(_line(document) for document in self._documents or ())
            self._documents = None
        return self._lines

    @overload
    def __getitem__(self, index: int) -> StoredLine: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[StoredLine, ...]: ...
    def __getitem__(self, index: int | slice) -> StoredLine | tuple[StoredLine, ...]:
        return self._made[index]

    def __len__(self) -> int:
        if self._lines is None and isinstance(self._documents, Sized):
            return len(self._documents)
        return len(self._made)

    def __iter__(self) -> Iterator[StoredLine]:
        return iter(self._made)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredLines):
            return self._made == other._made
        if isinstance(other, tuple):
            return self._made == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._made)

    def __repr__(self) -> str:
        return f"StoredLines({self._made!r})"


class UnreadLines(Sequence[StoredLine]):
    """The lines of a cart read without them: any use is a bug (the answer was meant not to
    show them), raised rather than answered as an empty cart."""

    __slots__ = ()

    def _refuse(self) -> RuntimeError:
        return RuntimeError("this cart was read without its lines")

    @overload
    def __getitem__(self, index: int) -> StoredLine: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[StoredLine, ...]: ...
    def __getitem__(self, index: int | slice) -> StoredLine | tuple[StoredLine, ...]:
        raise self._refuse()

    def __len__(self) -> int:
        raise self._refuse()

    def __iter__(self) -> Iterator[StoredLine]:
        raise self._refuse()

    def __repr__(self) -> str:
        return "UnreadLines()"


UNREAD_LINES = UnreadLines()


def _line(document: Document) -> StoredLine:
    price = document["added_unit_price"]
    return StoredLine(
        id=document["id"],
        sku=document["sku"],
        quantity=document["quantity"],
        added_unit_price=Money(Decimal(price["amount"]), price["currency"]),
        added_at=utc(document["added_at"]),
        needs_repricing=document.get("needs_repricing", False),
    )


@dataclass(frozen=True, slots=True)
class NewLine:
    sku: str
    quantity: int
    unit_price: Money
    # priced by the recent catalog, the price source being unreachable
    needs_repricing: bool = False


class CartMiss(StrEnum):
    """Why a conditional update matched no cart."""

    NOT_FOUND = "NOT_FOUND"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    NOT_OPEN = "NOT_OPEN"
    LINE_NOT_FOUND = "LINE_NOT_FOUND"
    PROMO_CODE_NOT_IN_CART = "PROMO_CODE_NOT_IN_CART"
    LIMIT = "LIMIT"  # a line would pass the maximum quantity, or the cart the maximum lines


@dataclass(frozen=True, slots=True)
class CartLimits:
    max_lines: int
    max_quantity: int
