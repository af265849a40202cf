"""The offers file's shape (docs/offers.md "Offers as configuration"): what each key may
hold, checked by pydantic; what keys mean together is checks.py's.

Every model forbids keys it does not know: a misspelt `conditons:` is a problem, never a
promotion silently without conditions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from commerce.offers.channel import SalesChannel
from commerce.offers.rules import OfferKind, Stacking

# Ids, set and segment names: what reads well in a URL, a log line and a shell.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"),
]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class _Strict(BaseModel):
    # numbers written where text is expected (`code: 2027`, a SKU) are taken as text
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)


class ConditionsEntry(_Strict):
    channels: tuple[SalesChannel, ...] = ()
    store_ids: tuple[NonEmpty, ...] = ()
    segments: tuple[Name, ...] = ()
    tiers: tuple[NonEmpty, ...] = ()
    min_subtotal: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] | None = None
    skus: tuple[NonEmpty, ...] = ()
    categories: tuple[NonEmpty, ...] = ()
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


class LimitsEntry(_Strict):
    total: Annotated[int, Field(ge=1)] | None = None
    per_customer: Annotated[int, Field(ge=1)] | None = None


class PromotionEntry(_Strict):
    id: Name
    title: NonEmpty
    kind: OfferKind
    code: NonEmpty | None = None
    value: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = None
    currency: Currency | None = None
    buy_quantity: Annotated[int, Field(ge=1)] | None = None
    get_quantity: Annotated[int, Field(ge=1)] | None = None
    conditions: ConditionsEntry = ConditionsEntry()
    stacking: Stacking = Stacking.STACKABLE
    priority: int = 0
    limits: LimitsEntry = LimitsEntry()
    active: bool = True


class OffersFile(_Strict):
    # the set this file declares; applying it withdraws what the set declared before and
    # this file no longer does (commerce/offers/declared.py)
    set: Name = "default"
    promotions: list[PromotionEntry]
    # segment -> the CRM contact ids (customer ids) in it
    segments: dict[Name, list[NonEmpty]] = {}


def utc_milliseconds(moment: datetime | None) -> datetime | None:
    """As MongoDB keeps it: UTC, whole milliseconds (so a re-read compares equal)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)
