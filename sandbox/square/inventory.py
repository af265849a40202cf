"""Inventory API: BatchRetrieveInventoryCounts (`POST /v2/inventory/counts/batch-retrieve`).

Counts are IN_STOCK only; a (variation, location) pair missing from `dataset.inventory` is not
tracked there and, as on Square, yields no count at all rather than a zero.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sandbox.square import shapes
from sandbox.square.body import id_list, strict_limit, timestamp
from sandbox.square.paging import paginate
from sandbox.square.world import SquareWorld

# BatchRetrieveInventoryCountsRequest.limit: ">= 1, <= 1000".
COUNTS_MAX_LIMIT = 1000
# Square's InventoryState values it never tracks counts for.
_UNTRACKED_STATES = {"NONE", "SOLD", "UNLINKED_RETURN"}


async def batch_retrieve_inventory_counts(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    object_ids = id_list(body, "catalog_object_ids")
    location_ids = id_list(body, "location_ids")
    states = id_list(body, "states")
    updated_after = timestamp(body, "updated_after")
    limit = strict_limit(body, default=COUNTS_MAX_LIMIT, minimum=1, maximum=COUNTS_MAX_LIMIT)

    # Each filter applies only when set, as Square documents them.
    tracked_states = None if states is None else set(states) - _UNTRACKED_STATES
    if tracked_states is not None and "IN_STOCK" not in tracked_states:
        return {"counts": []}
    variations = world.counts_by_variation
    wanted_objects = object_ids if object_ids is not None else list(variations)
    wanted_locations = set(location_ids) if location_ids is not None else None
    rows = [
        (moment, variation_id, location_id, quantity)
        for variation_id in dict.fromkeys(wanted_objects)
        for location_id, quantity, moment in variations.get(variation_id, ())
        if (wanted_locations is None or location_id in wanted_locations)
        and (updated_after is None or moment > updated_after)
    ]
    # "Results are paginated and sorted in descending order according to their calculated_at."
    rows.sort(reverse=True)
    page = paginate(rows, body, limit)
    payload: dict[str, Any] = {
        "counts": [
            shapes.inventory_count(variation_id, location_id, quantity, moment)
            for moment, variation_id, location_id, quantity in page.items
        ],
    }
    if page.cursor:
        payload["cursor"] = page.cursor
    return payload
