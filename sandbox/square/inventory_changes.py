"""Inventory API: BatchChangeInventory (`POST /v2/inventory/changes/batch-create`), for the
one change omnigate makes: returned units put back on sale at a location, an ADJUSTMENT
from `NONE` to `IN_STOCK` (Square's way to add stock that was not counted anywhere).

Square's contract: `idempotency_key` (1..128 characters) is required, at most 100 changes;
the same key and body answer the first call's changes and counts again and change nothing
more, the same key with another body is 400 IDEMPOTENCY_KEY_REUSED. The answer carries the
resulting IN_STOCK counts. Other change types and states are refused here with
INVALID_VALUE: the simulator does not model them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sandbox.square import shapes
from sandbox.square.create_order import base62
from sandbox.square.envelope import invalid_request
from sandbox.square.idempotency import fingerprint, first_use
from sandbox.square.shapes import rfc3339
from sandbox.square.world import IdempotentCall, SquareWorld

IDEMPOTENCY_KEY_MAX = 128
MAX_CHANGES = 100


async def batch_change_inventory(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
        raise invalid_request(
            "INVALID_VALUE",
            f"`idempotency_key` must be 1 to {IDEMPOTENCY_KEY_MAX} characters.",
            "idempotency_key",
        )
    first = first_use(world.inventory_change_keys, key, body)
    if first is not None:
        return world.inventory_change_answers[first.order_id]
    changes = body.get("changes")
    if not isinstance(changes, list) or not 1 <= len(changes) <= MAX_CHANGES:
        raise invalid_request(
            "INVALID_VALUE", f"`changes` must hold 1 to {MAX_CHANGES} changes.", "changes"
        )
    adjustments = [_adjustment(world, change, index) for index, change in enumerate(changes)]
    moment = world.wall_clock()
    now = rfc3339(moment)
    answered_changes = []
    touched: dict[tuple[str, str], int] = {}
    for index, (variation_id, location_id, quantity, adjustment) in enumerate(adjustments):
        counts = world.counts_by_variation[variation_id]
        current = next((q for loc, q, _ in counts if loc == location_id), 0)
        world.counts_by_variation[variation_id] = [
            *(c for c in counts if c[0] != location_id),
            (location_id, current + quantity, moment),
        ]
        touched[(variation_id, location_id)] = current + quantity
        answered_changes.append(
            {
                "type": "ADJUSTMENT",
                "adjustment": {
                    **adjustment,
                    "id": base62(f"adjustment:{key}:{index}", 26),
                    "catalog_object_type": "ITEM_VARIATION",
                    "created_at": now,
                    "occurred_at": adjustment.get("occurred_at", now),
                },
            }
        )
    answer = {
        "changes": answered_changes,
        "counts": [
            shapes.inventory_count(variation_id, location_id, quantity, moment)
            for (variation_id, location_id), quantity in touched.items()
        ],
    }
    world.inventory_change_keys[key] = IdempotentCall(fingerprint(body), key)
    world.inventory_change_answers[key] = answer
    return answer


def _adjustment(
    world: SquareWorld, change: Any, index: int
) -> tuple[str, str, int, dict[str, Any]]:
    where = f"changes[{index}]"
    adjustment = change.get("adjustment") if isinstance(change, dict) else None
    if not isinstance(change, dict) or change.get("type") != "ADJUSTMENT" or not adjustment:
        raise invalid_request("INVALID_VALUE", "Only ADJUSTMENT changes are simulated.", where)
    if (adjustment.get("from_state"), adjustment.get("to_state")) != ("NONE", "IN_STOCK"):
        raise invalid_request(
            "INVALID_VALUE", "Only NONE -> IN_STOCK adjustments are simulated.", where
        )
    variation_id = adjustment.get("catalog_object_id")
    if variation_id not in world.products_by_variation:
        raise invalid_request(
            "INVALID_VALUE", "Unknown `catalog_object_id`.", f"{where}.adjustment.catalog_object_id"
        )
    location_id = adjustment.get("location_id")
    if location_id not in {loc.id for loc in world.dataset.locations}:
        raise invalid_request(
            "INVALID_VALUE", "Unknown `location_id`.", f"{where}.adjustment.location_id"
        )
    try:
        quantity = int(str(adjustment.get("quantity")))
    except ValueError:
        quantity = 0
    if quantity <= 0:
        raise invalid_request(
            "INVALID_VALUE", "`quantity` must be a positive whole number.", f"{where}.adjustment"
        )
    return variation_id, location_id, quantity, dict(adjustment)
