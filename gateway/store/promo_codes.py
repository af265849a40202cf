"""Promo codes the retailer has issued, in MongoDB (`promo_codes`, one document per code).

A document: `_id` (the code, upper case), `kind` (PERCENTAGE or FIXED_AMOUNT), `value` (a
decimal string: percent, or an amount in `currency`), and optional `min_subtotal`,
`starts_at`, `ends_at`, `active`. The offers engine grows these rules; the cart only needs
to know whether a code applies and what it takes off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]
COLLECTION = "promo_codes"


class DiscountKind(StrEnum):
    PERCENTAGE = "PERCENTAGE"
    FIXED_AMOUNT = "FIXED_AMOUNT"


@dataclass(frozen=True, slots=True)
class PromoCode:
    code: str
    kind: DiscountKind
    value: Decimal
    currency: str | None = None
    min_subtotal: Decimal | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    active: bool = True

    def to_document(self) -> Document:
        return {
            "_id": self.code,
            "kind": self.kind.value,
            "value": str(self.value),
            "currency": self.currency,
            "min_subtotal": None if self.min_subtotal is None else str(self.min_subtotal),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "active": self.active,
        }

    @classmethod
    def from_document(cls, doc: Document) -> PromoCode:
        minimum = doc.get("min_subtotal")
        return cls(
            code=doc["_id"],
            kind=DiscountKind(doc["kind"]),
            value=Decimal(doc["value"]),
            currency=doc.get("currency"),
            min_subtotal=None if minimum is None else Decimal(minimum),
            starts_at=doc.get("starts_at"),
            ends_at=doc.get("ends_at"),
            active=doc.get("active", True),
        )


def normalise_code(code: str) -> str:
    """Codes are typed by people: case and surrounding spaces do not matter."""
    return code.strip().upper()


class PromoCodes:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]

    async def get_many(self, codes: list[str]) -> dict[str, PromoCode]:
        if not codes:
            return {}
        found = self._collection.find({"_id": {"$in": codes}})
        return {doc["_id"]: PromoCode.from_document(doc) async for doc in found}

    async def put(self, promo: PromoCode) -> None:
        await self._collection.replace_one({"_id": promo.code}, promo.to_document(), upsert=True)
