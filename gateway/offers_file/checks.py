"""What the keys of an offers file mean together, past their shapes (model.py): each
problem at the location of the key to fix.

- what a kind needs and what it cannot use: PERCENTAGE `value` 0-100, FIXED_AMOUNT
  `value` and `currency`, BUY_X_GET_Y `buy_quantity` and `get_quantity`, FREE_SHIPPING
  none of them;
- `starts_at` before `ends_at`; tiers the loyalty program has;
- one promotion per id and per code (codes compared as shoppers type them), in the file.
"""

from __future__ import annotations

from collections.abc import Iterator

from commerce.customers.profile import LOYALTY_TIERS
from commerce.offers.declared import ENGINE_SEGMENTS
from commerce.offers.rules import OfferKind, normalise_code
from gateway.offers_file.model import OffersFile, PromotionEntry

Location = tuple[str | int, ...]
TIERS = tuple(name for _, name in LOYALTY_TIERS)

# (key, the kinds that use it)
_KIND_KEYS: tuple[tuple[str, frozenset[OfferKind]], ...] = (
    ("value", frozenset({OfferKind.PERCENTAGE, OfferKind.FIXED_AMOUNT})),
    ("currency", frozenset({OfferKind.FIXED_AMOUNT})),
    ("buy_quantity", frozenset({OfferKind.BUY_X_GET_Y})),
    ("get_quantity", frozenset({OfferKind.BUY_X_GET_Y})),
)


def file_problems(offers: OffersFile) -> Iterator[tuple[Location, str]]:
    first_id: dict[str, int] = {}
    first_code: dict[str, int] = {}
    for index, entry in enumerate(offers.promotions):
        at: Location = ("promotions", index)
        yield from _kind_problems(entry, at)
        yield from _condition_problems(entry, at)
        if entry.id in first_id:
            yield (*at, "id"), f"id {entry.id!r} is already promotion #{first_id[entry.id] + 1}'s"
        first_id.setdefault(entry.id, index)
        if entry.code is not None:
            code = normalise_code(entry.code)
            if code in first_code:
                yield (
                    (*at, "code"),
                    f"code {code!r} is already promotion #{first_code[code] + 1}'s",
                )
            first_code.setdefault(code, index)
    for segment in offers.segments:
        if segment in ENGINE_SEGMENTS:
            yield ("segments", segment), f"{segment!r} is written by omnigate itself"


def _kind_problems(entry: PromotionEntry, at: Location) -> Iterator[tuple[Location, str]]:
    for key, kinds in _KIND_KEYS:
        given = getattr(entry, key) is not None
        if given and entry.kind not in kinds:
            yield (*at, key), f"a {entry.kind.value} promotion has no {key}"
        elif not given and entry.kind in kinds:
            yield (*at, key), f"a {entry.kind.value} promotion needs {key}"
    if entry.kind is OfferKind.PERCENTAGE and entry.value is not None and entry.value > 100:
        yield (*at, "value"), f"a percentage is at most 100 (got {entry.value})"


def _condition_problems(entry: PromotionEntry, at: Location) -> Iterator[tuple[Location, str]]:
    conditions = entry.conditions
    where: Location = (*at, "conditions")
    if (
        conditions.starts_at is not None
        and conditions.ends_at is not None
        and conditions.starts_at >= conditions.ends_at
    ):
        yield (*where, "ends_at"), "ends_at must be after starts_at"
    for index, tier in enumerate(conditions.tiers):
        if tier not in TIERS:
            yield (*where, "tiers", index), f"unknown tier {tier!r}; one of {', '.join(TIERS)}"
