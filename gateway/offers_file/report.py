"""What `omnigate offers apply` and `offers list` print: a plan as a diff (`+` created,
`~` changed, `-` removed), and the promotions and segments as tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from commerce.offers.declared import Change, OffersPlan, PromotionChange, SegmentChange
from commerce.offers.offer_sets import ListedPromotion, ListedSegment

_SIGN = {Change.CREATE: "+", Change.CHANGE: "~", Change.REMOVE: "-"}
_SHOWN_MEMBERS = 5


def plan_lines(plan: OffersPlan, *, dry_run: bool) -> list[str]:
    lines = [_promotion_line(change) for change in plan.promotions]
    lines += [_segment_line(change) for change in plan.segments]
    unchanged = _counted(plan.unchanged_promotions, "promotion") + _counted(
        plan.unchanged_segments, "segment", joiner=" and "
    )
    if plan.empty:
        lines.append(f"offer set {plan.set_name!r}: nothing to change ({unchanged or 'empty'})")
        return lines
    done = ("to create", "to change", "to remove") if dry_run else ("created", "changed", "removed")
    counts = ", ".join(
        f"{plan.count(change)} {word}"
        for change, word in zip((Change.CREATE, Change.CHANGE, Change.REMOVE), done, strict=True)
    )
    summary = f"offer set {plan.set_name!r}: {counts}"
    if unchanged:
        summary += f"; unchanged: {unchanged}"
    if dry_run:
        summary += " (dry run: nothing written)"
    lines.append(summary)
    return lines


def _counted(count: int, noun: str, joiner: str = "") -> str:
    if not count:
        return ""
    return f"{joiner}{count} {noun}{'s' if count != 1 else ''}"


def _promotion_line(change: PromotionChange) -> str:
    head = f"{_SIGN[change.change]} promotion {change.promotion_id}"
    if change.change is Change.CREATE:
        return f"{head}: {_summary(change.document)}"
    if change.change is Change.REMOVE:
        note = "withdrawn (no longer in the file)"
        if "code" not in change.document and any(f.name == "code" for f in change.fields):
            note += ", its code taken by another promotion"
        return f"{head}: {note}"
    return f"{head}: " + "; ".join(
        f"{field.name} {_shown(field.before)} -> {_shown(field.after)}" for field in change.fields
    )


def _summary(document: dict[str, Any]) -> str:
    kind = document["kind"]
    value = "" if kind in ("BUY_X_GET_Y", "FREE_SHIPPING") else f" {document['value']}"
    if kind == "BUY_X_GET_Y":
        value = f" buy {document['buy_quantity']} get {document['get_quantity']}"
    if document.get("currency"):
        value += f" {document['currency']}"
    parts = [f"{kind}{value}", f"code {document['code']}" if "code" in document else "automatic"]
    channels = document["conditions"]["channels"]
    if channels:
        parts.append("on " + ", ".join(channels))
    if not document["active"]:
        parts.append("inactive")
    return ", ".join(parts)


def _segment_line(change: SegmentChange) -> str:
    head = f"{_SIGN[change.change]} segment {change.segment}"
    if change.change is Change.REMOVE:
        return f"{head}: no longer in the file, emptied ({_members(change.removed, '-')})"
    moves = [part for part in (_members(change.added, "+"), _members(change.removed, "-")) if part]
    return f"{head}: " + ("; ".join(moves) if moves else "no members")


def _members(ids: frozenset[str], sign: str) -> str:
    if not ids:
        return ""
    shown = sorted(ids)[:_SHOWN_MEMBERS]
    more = f" and {len(ids) - len(shown)} more" if len(ids) > len(shown) else ""
    return f"{sign}{len(ids)} member{'s' if len(ids) != 1 else ''} ({', '.join(shown)}{more})"


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def promotion_table(listed: Sequence[ListedPromotion]) -> list[str]:
    rows = [("ID", "SET", "STATE", "CODE", "OFFER", "CHANNELS", "DATES", "REDEEMED")]
    for item in listed:
        promotion = item.promotion
        conditions = promotion.conditions
        offer = promotion.kind.value
        if promotion.kind.value in ("PERCENTAGE", "FIXED_AMOUNT"):
            offer += f" {promotion.value}" + (
                f" {promotion.currency}" if promotion.currency else ""
            )
        elif promotion.kind.value == "BUY_X_GET_Y":
            offer += f" {promotion.buy_quantity}+{promotion.get_quantity}"
        limit = promotion.limits.total
        rows.append(
            (
                promotion.id,
                item.offer_set or "-",
                "active" if promotion.active else "withdrawn",
                promotion.code or "-",
                offer,
                ",".join(conditions.channels) or "all",
                _dates(conditions.starts_at, conditions.ends_at),
                f"{item.redeemed}" + (f"/{limit}" if limit is not None else ""),
            )
        )
    return _table(rows)


def segment_table(listed: Sequence[ListedSegment]) -> list[str]:
    rows = [("SEGMENT", "SET", "MEMBERS")]
    rows += [(s.name, s.offer_set or "-", str(s.members)) for s in listed]
    return _table(rows)


def _dates(starts: datetime | None, ends: datetime | None) -> str:
    if starts is None and ends is None:
        return "always"
    first = starts.date().isoformat() if starts else ""
    last = ends.date().isoformat() if ends else ""
    return f"{first}..{last}"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
