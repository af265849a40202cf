"""`inventoryAdjustQuantities`: units added to (or taken from) inventory levels, exactly once
per `@idempotent` key.

Shopify's contract (Admin API 2026-07, `inventoryAdjustQuantities`, "Make API requests
idempotent"): since 2026-04 the `@idempotent(key:)` directive is required, and a retry with
the same key and input answers the first adjustment and changes nothing more, while the
same key with another input is refused (IDEMPOTENCY_KEY_PARAMETER_MISMATCH). Each change
must say `changeFromQuantity` (null skips the compare-and-swap; a number that is not the
level's current quantity is CHANGE_FROM_QUANTITY_STALE); a reason outside Shopify's list is
INVALID_REASON, a quantity name it does not adjust INVALID_QUANTITY_NAME, an item not
stocked at the location ITEM_NOT_STOCKED_AT_LOCATION. Refusals are userErrors, HTTP 200,
and change nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from sandbox.shopify.idempotency import idempotency_key
from sandbox.shopify.rows import Graph, gid, iso
from sandbox.shopify.store import ShopData

Info = GraphQLResolveInfo[ShopData]

# the quantity names an adjustment may change (on_hand follows available)
ADJUSTABLE = ("available", "damaged", "quality_control", "reserved", "safety_stock")
# Shopify's reasons for a quantity change
REASONS = frozenset(
    {
        "correction", "cycle_count_available", "damaged", "movement_created",
        "movement_updated", "movement_received", "movement_canceled", "other",
        "promotion", "quality_control", "received", "reservation_created",
        "reservation_deleted", "reservation_updated", "restock", "safety_stock", "shrinkage",
    }
)  # fmt: skip


def inventory_adjust_quantities(_root: None, info: Info, input: dict[str, Any]) -> Graph:
    data = info.context
    key = idempotency_key(info)
    if key is None or not key.strip():
        raise GraphQLError(
            "inventoryAdjustQuantities requires an idempotency key: use @idempotent(key:).",
            extensions={"code": "BAD_REQUEST"},
        )
    fingerprint = hashlib.sha256(json.dumps(input, sort_keys=True).encode()).hexdigest()
    if key in data.inventory_keys:
        first, payload = data.inventory_keys[key]
        if first != fingerprint:
            return _refused(
                [],
                "The idempotency key was already used with different parameters.",
                "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
            )
        return payload
    payload = _adjust(data, input)
    if payload["inventoryAdjustmentGroup"] is not None:
        data.inventory_keys[key] = (fingerprint, payload)
    return payload


def _adjust(data: ShopData, given: dict[str, Any]) -> Graph:
    name, reason = str(given["name"]), str(given["reason"])
    if reason not in REASONS:
        return _refused(["input", "reason"], "The reason is not valid.", "INVALID_REASON")
    if name not in ADJUSTABLE:
        return _refused(
            ["input", "name"], "The quantity name is not valid.", "INVALID_QUANTITY_NAME"
        )
    planned: list[tuple[Graph, int]] = []
    for index, change in enumerate(given["changes"]):
        where = ["input", "changes", str(index)]
        item_id, location_id = str(change["inventoryItemId"]), str(change["locationId"])
        if item_id not in data.retail.items:
            return _refused(
                [*where, "inventoryItemId"], "The item does not exist.", "INVALID_INVENTORY_ITEM"
            )
        level = next(
            (lv for lv in data.retail.levels(item_id) if lv["location"]["id"] == location_id), None
        )
        if level is None:
            return _refused(
                [*where, "locationId"],
                "The item is not stocked at the location.",
                "ITEM_NOT_STOCKED_AT_LOCATION",
            )
        if "changeFromQuantity" not in change:
            return _refused(
                [*where, "changeFromQuantity"],
                "changeFromQuantity must be given (null skips the check).",
                "INVALID_QUANTITY_DOCUMENT",
            )
        expected = change["changeFromQuantity"]
        if expected is not None and expected != level["_quantities"][name]:
            return _refused(
                [*where, "changeFromQuantity"],
                "The quantity changed since it was read.",
                "CHANGE_FROM_QUANTITY_STALE",
            )
        planned.append((level, int(change["delta"])))
    moment = iso(data.wall_clock())
    changes = []
    for level, delta in planned:
        quantities: dict[str, int] = level["_quantities"]
        quantities[name] += delta
        if name == "available":
            quantities["on_hand"] += delta
        level["updatedAt"] = moment
        changes.append(
            {
                "__typename": "InventoryChange",
                "name": name,
                "delta": delta,
                "quantityAfterChange": quantities[name],
                "item": level["item"],
                "location": level["location"],
                "ledgerDocumentUri": None,
            }
        )
    group: Graph = {
        "__typename": "InventoryAdjustmentGroup",
        "id": gid("InventoryAdjustmentGroup", data.next_adjustment_id()),
        "createdAt": moment,
        "reason": reason,
        "referenceDocumentUri": given.get("referenceDocumentUri"),
        "changes": changes,
    }
    return {"inventoryAdjustmentGroup": group, "userErrors": []}


def _refused(field: list[str], message: str, code: str) -> Graph:
    return {
        "inventoryAdjustmentGroup": None,
        "userErrors": [{"field": field, "message": message, "code": code}],
    }
