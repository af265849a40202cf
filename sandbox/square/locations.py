"""Locations API: ListLocations (`GET /v2/locations`), the 12 stores and the online warehouse."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sandbox.square import shapes
from sandbox.square.world import SquareWorld


async def list_locations(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    # ListLocations is not paginated: every location comes back in one response.
    return {"locations": [shapes.location(loc) for loc in world.dataset.locations]}
