"""Store locations, read from the POS and kept in process for a short TTL.

Locations change a few times a year and every availability answer needs them, so each
gateway process keeps one copy instead of asking the POS per request. Concurrent misses
share one upstream call.
"""

from __future__ import annotations

import asyncio
import time

from connectors.ports import PosPort
from connectors.records import LocationRecord


class StoreDirectory:
    def __init__(self, pos: PosPort, ttl_seconds: float) -> None:
        self._pos = pos
        self._ttl = ttl_seconds
        self._locations: dict[str, LocationRecord] = {}
        self._loaded_at = float("-inf")
        self._refresh: asyncio.Task[None] | None = None

    async def all(self) -> dict[str, LocationRecord]:
        """Every location (stores and warehouses) by id."""
        if time.monotonic() - self._loaded_at < self._ttl:
            return self._locations
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._load())
            self._refresh.add_done_callback(_retrieved)
        # shield: one caller's cancellation must not cancel the load the others await
        await asyncio.shield(self._refresh)
        return self._locations

    async def _load(self) -> None:
        locations = await self._pos.locations()
        self._locations = {location.id: location for location in locations}
        self._loaded_at = time.monotonic()

    async def stores(self) -> list[LocationRecord]:
        """The shops customers can walk into, by name."""
        locations = await self.all()
        return sorted(
            (loc for loc in locations.values() if not loc.is_warehouse), key=lambda loc: loc.name
        )

    async def get(self, location_id: str) -> LocationRecord | None:
        return (await self.all()).get(location_id)

    async def warehouse_ids(self) -> frozenset[str]:
        return frozenset(loc.id for loc in (await self.all()).values() if loc.is_warehouse)


def _retrieved(task: asyncio.Task[None]) -> None:
    """Its failure is marked seen: every reader may have left (their request's deadline
    cancelled them through the shield) before the POS answered, and asyncio would then log
    "Task exception was never retrieved". A reader still waiting gets it all the same."""
    if not task.cancelled():
        task.exception()
