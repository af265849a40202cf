"""Where can I get it today: the stores near a point, nearest first, optionally only those
within a distance and with every asked SKU on the shelf net of pickup holds.

Distances are great-circle (haversine) on a sphere of the Earth's mean radius: off by at
most about 0.5% against the ellipsoid, which is metres across a city.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from commerce.errors import BadUserInput
from commerce.holds.model import NO_HOLDS
from commerce.holds.service import StockHolds
from commerce.ports import CatalogReads
from commerce.stores import StoreDirectory
from connectors.records import LocationRecord

EARTH_RADIUS_KM = 6371.0088  # the IUGG mean radius
# half the Earth's circumference: every store is within it
MAX_DISTANCE_KM = math.pi * EARTH_RADIUS_KM
MAX_SKUS = 50


@dataclass(frozen=True, slots=True)
class GeoPoint:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class NearbyStore:
    location: LocationRecord
    distance_km: float | None  # None when no point was given


def haversine_km(a: GeoPoint, b: GeoPoint) -> float:
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def check_query(near: GeoPoint | None, within_km: float | None, skus: Sequence[str]) -> None:
    """BAD_USER_INPUT with a stable `reason` for a query no store could answer."""
    if near is not None:
        if not (math.isfinite(near.latitude) and -90 <= near.latitude <= 90):
            raise BadUserInput(
                "`near.latitude` must be between -90 and 90 degrees.",
                field="near.latitude",
                reason="INVALID_LATITUDE",
            )
        if not (math.isfinite(near.longitude) and -180 <= near.longitude <= 180):
            raise BadUserInput(
                "`near.longitude` must be between -180 and 180 degrees.",
                field="near.longitude",
                reason="INVALID_LONGITUDE",
            )
    if within_km is not None:
        if near is None:
            raise BadUserInput(
                "`withinKm` needs `near`: a distance from where?",
                field="withinKm",
                reason="NEAR_REQUIRED",
            )
        if not (math.isfinite(within_km) and within_km > 0):
            raise BadUserInput(
                "`withinKm` must be a distance above 0.",
                field="withinKm",
                reason="INVALID_DISTANCE",
            )
    if len(skus) > MAX_SKUS or any(not sku.strip() for sku in skus):
        raise BadUserInput(
            f"`withStock` takes at most {MAX_SKUS} SKUs, none blank.",
            field="withStock",
            reason="INVALID_SKUS",
        )


async def nearby_stores(
    directory: StoreDirectory,
    holds: StockHolds,
    reads: CatalogReads,
    *,
    near: GeoPoint | None,
    within_km: float | None,
    with_stock: Sequence[str],
) -> list[NearbyStore]:
    """The stores answering the query: nearest first with `near` (stores without
    coordinates are left out then), else by name. `with_stock`: only stores holding at
    least one unit of every SKU listed, after other carts' pickup holds."""
    check_query(near, within_km, with_stock)
    found: list[tuple[float, str, NearbyStore]] = []
    for location in await directory.stores():
        distance = None
        if near is not None:
            if location.latitude is None or location.longitude is None:
                continue
            distance = haversine_km(near, GeoPoint(location.latitude, location.longitude))
            if within_km is not None and distance > within_km:
                continue
        found.append((distance or 0.0, location.name, NearbyStore(location, distance)))
    found.sort(key=lambda row: (row[0], row[1]))
    stores = [row[2] for row in found]
    if with_stock and stores:
        stores = await _stocking(stores, holds, reads, list(dict.fromkeys(with_stock)))
    return stores


async def _stocking(
    stores: list[NearbyStore], holds: StockHolds, reads: CatalogReads, skus: list[str]
) -> list[NearbyStore]:
    levels = await reads.stock(skus)
    held = await holds.shown(skus)
    on_shelf: list[dict[str, int]] = []
    for sku, sku_levels in zip(skus, levels, strict=True):
        counts: dict[str, int] = {}
        for level in sku_levels:
            counts[level.location_id] = counts.get(level.location_id, 0) + max(level.quantity, 0)
        sku_holds = held.get(sku, NO_HOLDS)
        on_shelf.append(
            {store: count - sku_holds.held_at(store) for store, count in counts.items()}
        )
    return [
        store
        for store in stores
        if all(counts.get(store.location.id, 0) > 0 for counts in on_shelf)
    ]
