"""Offers declared as configuration (`omnigate offers apply FILE`): the promotions and the
segment memberships one named set owns, and the changes that bring MongoDB to them.

A set owns the promotions it declared (their documents carry `offer_set`) and the segments
it names (listed in its `offer_sets` document). Bringing MongoDB to a set:

- a declared promotion is created, or rewritten where it differs (its redemption count is
  kept);
- a promotion the set declared before and no longer does is withdrawn (`active: false`),
  not deleted: a shopper holding its code hears "withdrawn", and its redemptions stay;
- a named segment's members become exactly the declared ones; a segment the set named
  before and no longer does is emptied.

Nothing the set does not own is touched: the engine's vouchers and referral codes, the
CART_ABANDONED segment, another set's promotions or segments. What cannot be owned is a
`Conflict`, reported before anything is written. `plan` is pure: the same declaration
against the state it produced plans no change, which is what makes applying idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from commerce.offers.rules import Promotion

Document = dict[str, Any]
OFFER_SET = "offer_set"  # the field naming the set that owns a promotion
# Segments the engine writes itself: a file never owns them (commerce/offers/abandoned.py).
ENGINE_SEGMENTS = frozenset({"CART_ABANDONED"})


@dataclass(frozen=True, slots=True)
class DeclaredOffers:
    set_name: str
    promotions: tuple[Promotion, ...]
    segments: Mapping[str, frozenset[str]]  # segment -> customer ids

    def documents(self) -> dict[str, Document]:
        """Each promotion's document as the set stores it, by id."""
        return {p.id: {**p.to_document(), OFFER_SET: self.set_name} for p in self.promotions}


@dataclass(frozen=True, slots=True)
class CurrentOffers:
    """What MongoDB holds that the declaration concerns (OfferSets.current reads it)."""

    # promotions with a declared id, or owned by the set, by id
    promotions: Mapping[str, Document]
    # promotions holding a declared code, by code
    code_holders: Mapping[str, str]
    # the set owning each segment the declaration names or the set owned before
    segment_owners: Mapping[str, str]
    # the members of those segments
    members: Mapping[str, frozenset[str]]


class Change(StrEnum):
    CREATE = "create"
    CHANGE = "change"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class FieldChange:
    name: str  # dotted: conditions.channels
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class PromotionChange:
    change: Change
    promotion_id: str
    # the fields written; `code` absent from it is removed (an automatic promotion, or a
    # withdrawn one whose code moved to another); other fields (`redeemed`) are kept
    document: Document
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True)
class SegmentChange:
    change: Change
    segment: str
    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Conflict:
    """Why the set cannot own a declared promotion or segment; nothing is written."""

    message: str
    promotion_id: str | None = None
    segment: str | None = None


@dataclass(frozen=True, slots=True)
class OffersPlan:
    set_name: str
    promotions: tuple[PromotionChange, ...] = ()
    segments: tuple[SegmentChange, ...] = ()
    # the segments the set owns once applied
    owned_segments: tuple[str, ...] = ()
    unchanged_promotions: int = 0
    unchanged_segments: int = 0
    conflicts: tuple[Conflict, ...] = ()
    # codes to take off their current holders before anything is written (a code moving
    # from one of the set's promotions to another: the unique index allows one holder)
    released_codes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.promotions and not self.segments

    def count(self, change: Change) -> int:
        return sum(1 for c in self.promotions if c.change is change) + sum(
            1 for s in self.segments if s.change is change
        )


def plan(declared: DeclaredOffers, current: CurrentOffers) -> OffersPlan:
    conflicts = [
        *_promotion_conflicts(declared, current),
        *_segment_conflicts(declared, current),
    ]
    if conflicts:
        return OffersPlan(declared.set_name, conflicts=tuple(conflicts))
    wanted = declared.documents()
    changes: list[PromotionChange] = []
    unchanged = 0
    for pid, document in wanted.items():
        existing = current.promotions.get(pid)
        if existing is None:
            changes.append(PromotionChange(Change.CREATE, pid, document))
            continue
        differences = tuple(_differences(_stored_part(existing, document), document))
        if differences:
            changes.append(PromotionChange(Change.CHANGE, pid, document, differences))
        else:
            unchanged += 1
    claimed = {doc["code"]: pid for pid, doc in wanted.items() if "code" in doc}
    for pid, existing in sorted(current.promotions.items()):
        if pid in wanted or existing.get(OFFER_SET) != declared.set_name:
            continue
        withdrawn = {"active": False}
        code = existing.get("code")
        if code is not None and claimed.get(code) in (None, pid):
            withdrawn["code"] = code  # kept, unless it now belongs to a declared promotion
        differences = tuple(_differences(_stored_part(existing, withdrawn), withdrawn))
        if differences:
            changes.append(PromotionChange(Change.REMOVE, pid, withdrawn, differences))
    segments, unchanged_segments = _segment_changes(declared, current)
    return OffersPlan(
        declared.set_name,
        promotions=tuple(changes),
        segments=tuple(segments),
        owned_segments=tuple(sorted(declared.segments)),
        unchanged_promotions=unchanged,
        unchanged_segments=unchanged_segments,
        released_codes=tuple(sorted(_released_codes(current, changes))),
    )


def _promotion_conflicts(declared: DeclaredOffers, current: CurrentOffers) -> Iterator[Conflict]:
    for promotion in declared.promotions:
        existing = current.promotions.get(promotion.id)
        if existing is not None:
            if existing.get("customer_id") is not None or existing.get("referrer_id") is not None:
                yield Conflict(
                    f"id {promotion.id!r} is a promotion omnigate issued to one customer "
                    "(a voucher or referral code); choose another id",
                    promotion_id=promotion.id,
                )
                continue
            owner = existing.get(OFFER_SET)
            if owner is not None and owner != declared.set_name:
                yield Conflict(
                    f"promotion {promotion.id!r} belongs to the offer set {owner!r}; "
                    "one set owns each promotion",
                    promotion_id=promotion.id,
                )
                continue
        if promotion.code is None:
            continue
        holder = current.code_holders.get(promotion.code)
        if holder is None or holder == promotion.id:
            continue
        holder_doc = current.promotions.get(holder)
        if holder_doc is None or holder_doc.get(OFFER_SET) != declared.set_name:
            yield Conflict(
                f"code {promotion.code!r} is already promotion {holder!r}'s, which this set "
                "does not own",
                promotion_id=promotion.id,
            )


def _segment_conflicts(declared: DeclaredOffers, current: CurrentOffers) -> Iterator[Conflict]:
    for segment in sorted(declared.segments):
        if segment in ENGINE_SEGMENTS:
            yield Conflict(
                f"segment {segment!r} is written by omnigate itself, not by a file",
                segment=segment,
            )
            continue
        owner = current.segment_owners.get(segment)
        if owner is not None and owner != declared.set_name:
            yield Conflict(
                f"segment {segment!r} belongs to the offer set {owner!r}; one set owns each "
                "segment",
                segment=segment,
            )


def _segment_changes(
    declared: DeclaredOffers, current: CurrentOffers
) -> tuple[list[SegmentChange], int]:
    changes: list[SegmentChange] = []
    unchanged = 0
    for segment, members in sorted(declared.segments.items()):
        owned = current.segment_owners.get(segment) == declared.set_name
        now = current.members.get(segment, frozenset())
        added, removed = members - now, now - members
        if not owned:
            # a segment new to the set is created even when empty: the set owns it now
            changes.append(SegmentChange(Change.CREATE, segment, added, removed))
        elif added or removed:
            changes.append(SegmentChange(Change.CHANGE, segment, added, removed))
        else:
            unchanged += 1
    dropped = sorted(
        segment
        for segment, owner in current.segment_owners.items()
        if owner == declared.set_name and segment not in declared.segments
    )
    for segment in dropped:
        changes.append(
            SegmentChange(Change.REMOVE, segment, removed=current.members.get(segment, frozenset()))
        )
    return changes, unchanged


def _released_codes(current: CurrentOffers, changes: Sequence[PromotionChange]) -> set[str]:
    """Codes whose current holder keeps them no longer: taken off first, so that the
    promotion they move to can be written (one holder per code)."""
    released = set()
    for change in changes:
        existing = current.promotions.get(change.promotion_id)
        code = existing.get("code") if existing is not None else None
        if code is not None and change.document.get("code") != code:
            released.add(code)
    return released


def _stored_part(existing: Document, wanted: Document) -> Document:
    """The fields of `existing` that writing `wanted` sets: its keys, and `code`, which
    writing an automatic promotion removes. Other fields (`redeemed`, anything a person
    added by hand) are left as they are, so they are no difference."""
    return {key: existing[key] for key in (*wanted, "code") if key in existing}


def _differences(before: Document, after: Document, prefix: str = "") -> Iterator[FieldChange]:
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            yield from _differences(old, new, f"{prefix}{key}.")
        elif _comparable(old) != _comparable(new):
            yield FieldChange(prefix + key, old, new)


def _comparable(value: Any) -> Any:
    """MongoDB keeps milliseconds, and a client that is not tz-aware reads naive UTC."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)
    return value
