"""A promotion rule as stored in MongoDB (`promotions`, one document per promotion).

A promotion is automatic (no `code`: it applies to every cart meeting its conditions) or
a code promotion (the shopper applies the code to the cart). What it gives (`kind`):

- PERCENTAGE: `value` percent off the eligible lines;
- FIXED_AMOUNT: `value` in `currency` off the eligible lines (never more than they cost);
- BUY_X_GET_Y: for every `buy_quantity + get_quantity` eligible units, the cheapest
  `get_quantity` are free;
- FREE_SHIPPING: the order ships free (no amount off the goods).

`conditions` say when it applies (conditions.py), `stacking` and `priority` how it
combines with others (stacking.py), `limits` how often it may be redeemed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

Document = dict[str, Any]


class OfferKind(StrEnum):
    PERCENTAGE = "PERCENTAGE"
    FIXED_AMOUNT = "FIXED_AMOUNT"
    BUY_X_GET_Y = "BUY_X_GET_Y"
    FREE_SHIPPING = "FREE_SHIPPING"


class Stacking(StrEnum):
    STACKABLE = "STACKABLE"  # combines with every other stackable promotion
    EXCLUSIVE = "EXCLUSIVE"  # alone on the cart, or not at all


@dataclass(frozen=True, slots=True)
class Conditions:
    """Every condition given must hold; an empty tuple or None means "any"."""

    channels: tuple[str, ...] = ()  # WEB, MOBILE, STORE, KIOSK
    store_ids: tuple[str, ...] = ()  # the store rung up at or picked up from
    segments: tuple[str, ...] = ()  # the customer is in at least one of these
    tiers: tuple[str, ...] = ()  # the customer's loyalty tier is one of these
    min_subtotal: Decimal | None = None  # of the eligible lines
    skus: tuple[str, ...] = ()  # eligible lines: these SKUs ...
    categories: tuple[str, ...] = ()  # ... or products of these categories
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @property
    def needs_customer(self) -> bool:
        return bool(self.segments or self.tiers)

    def to_document(self) -> Document:
        return {
            "channels": list(self.channels),
            "store_ids": list(self.store_ids),
            "segments": list(self.segments),
            "tiers": list(self.tiers),
            "min_subtotal": None if self.min_subtotal is None else str(self.min_subtotal),
            "skus": list(self.skus),
            "categories": list(self.categories),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
        }

    @classmethod
    def from_document(cls, doc: Document) -> Conditions:
        minimum = doc.get("min_subtotal")
        return cls(
            channels=tuple(doc.get("channels") or ()),
            store_ids=tuple(doc.get("store_ids") or ()),
            segments=tuple(doc.get("segments") or ()),
            tiers=tuple(doc.get("tiers") or ()),
            min_subtotal=None if minimum is None else Decimal(minimum),
            skus=tuple(doc.get("skus") or ()),
            categories=tuple(doc.get("categories") or ()),
            starts_at=doc.get("starts_at"),
            ends_at=doc.get("ends_at"),
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """Redemptions counted at checkout (redemptions.py); None: unlimited."""

    total: int | None = None
    per_customer: int | None = None


@dataclass(frozen=True, slots=True)
class Promotion:
    id: str
    kind: OfferKind
    title: str = ""
    code: str | None = None  # None: automatic
    value: Decimal = Decimal(0)
    currency: str | None = None  # FIXED_AMOUNT's currency; others: any
    buy_quantity: int = 0
    get_quantity: int = 0
    conditions: Conditions = field(default_factory=Conditions)
    stacking: Stacking = Stacking.STACKABLE
    priority: int = 0  # higher first
    limits: Limits = field(default_factory=Limits)
    active: bool = True
    # issued to one customer only (a referral voucher, an abandoned-cart offer)
    customer_id: str | None = None
    # a referral code: whose it is (they cannot use it themselves; docs/offers.md)
    referrer_id: str | None = None

    @property
    def automatic(self) -> bool:
        return self.code is None

    def to_document(self) -> Document:
        doc: Document = {
            "_id": self.id,
            "kind": self.kind.value,
            "title": self.title,
            "value": str(self.value),
            "currency": self.currency,
            "buy_quantity": self.buy_quantity,
            "get_quantity": self.get_quantity,
            "conditions": self.conditions.to_document(),
            "stacking": self.stacking.value,
            "priority": self.priority,
            "limits": {"total": self.limits.total, "per_customer": self.limits.per_customer},
            "active": self.active,
            "customer_id": self.customer_id,
            "referrer_id": self.referrer_id,
        }
        # absent rather than null: the unique index on `code` is sparse
        if self.code is not None:
            doc["code"] = self.code
        return doc

    @classmethod
    def from_document(cls, doc: Document) -> Promotion:
        limits = doc.get("limits") or {}
        return cls(
            id=doc["_id"],
            kind=OfferKind(doc["kind"]),
            title=doc.get("title", ""),
            code=doc.get("code"),
            value=Decimal(doc.get("value", "0")),
            currency=doc.get("currency"),
            buy_quantity=doc.get("buy_quantity", 0),
            get_quantity=doc.get("get_quantity", 0),
            conditions=Conditions.from_document(doc.get("conditions") or {}),
            stacking=Stacking(doc.get("stacking", Stacking.STACKABLE)),
            priority=doc.get("priority", 0),
            limits=Limits(limits.get("total"), limits.get("per_customer")),
            active=doc.get("active", True),
            customer_id=doc.get("customer_id"),
            referrer_id=doc.get("referrer_id"),
        )


def normalise_code(code: str) -> str:
    """Codes are typed by people: case and surrounding spaces do not matter."""
    return code.strip().upper()
