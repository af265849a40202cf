"""Stores: location, address and opening hours, from the POS; the stores near a point."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import strawberry

from commerce.errors import BadUserInput
from commerce.holds.model import net_levels
from commerce.nearby import GeoPoint, nearby_stores
from connectors.records import LocationRecord
from engine.context import Info
from resolvers.common import ExternalRef


@strawberry.type
class Address:
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country: str


@strawberry.type(description="Opening hours for one day, in the store's own time zone.")
class OpeningPeriod:
    day: str = strawberry.field(description="MON..SUN")
    opens: str = strawberry.field(description="HH:MM")
    closes: str = strawberry.field(description="HH:MM")


MAX_STOCK_SKUS = 50


@strawberry.type(description="One SKU's sellable quantity at one place (a store, or online).")
class SkuStock:
    sku: strawberry.ID
    quantity: int
    in_stock: bool


@strawberry.input(description="A point on Earth in decimal degrees (WGS 84).")
class GeoPointInput:
    latitude: float
    longitude: float


@strawberry.federation.type(keys=["id"])
class Store:
    id: strawberry.ID
    name: str
    address: Address
    timezone: str
    phone: str | None
    latitude: float | None
    longitude: float | None
    opening_hours: list[OpeningPeriod]
    external_refs: list[ExternalRef]
    distance_km: float | None = strawberry.field(
        default=None,
        description="Great-circle distance from `stores(near:)`'s point, in kilometres; null "
        "when the store was not looked up by distance.",
    )

    @strawberry.field(
        description="Units of each SKU on this store's shelf now, less what pickup carts "
        "hold here; in the order asked. Fails with the inventory's error if it cannot be read."
    )
    async def stock(self, info: Info, skus: list[strawberry.ID]) -> list[SkuStock]:
        if len(skus) > MAX_STOCK_SKUS:
            raise BadUserInput(
                f"`skus` takes at most {MAX_STOCK_SKUS} SKUs.", field="skus", reason="INVALID_SKUS"
            )
        levels = await info.context.loaders.stock_by_sku.load_many(skus)
        holds = await info.context.loaders.held_by_sku.load_many(skus)
        quantities = [
            sum(
                level.quantity
                for level in net_levels(sku_levels, sku_holds)
                if level.location_id == self.id
            )
            for sku_levels, sku_holds in zip(levels, holds, strict=True)
        ]
        return [
            SkuStock(sku=sku, quantity=quantity, in_stock=quantity > 0)
            for sku, quantity in zip(skus, quantities, strict=True)
        ]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Store | None:
        location = await info.context.services.stores.get(id)
        return store_from_record(location) if location and not location.is_warehouse else None


# Locations are immutable records served from the StoreDirectory's copy: converting each
# once saves rebuilding the same objects for every product of every availability answer.
# Keyed by id and checked by identity: hashing a whole record costs more than converting it.
_converted: dict[str, tuple[LocationRecord, Store]] = {}


def store_from_record(location: LocationRecord) -> Store:
    cached = _converted.get(location.id)
    if cached is not None and cached[0] is location:
        return cached[1]
    store = _convert(location)
    _converted[location.id] = (location, store)
    return store


def _convert(location: LocationRecord) -> Store:
    address = location.address
    return Store(
        id=strawberry.ID(location.id),
        name=location.name,
        address=Address(
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            region=address.region,
            postal_code=address.postal_code,
            country=address.country,
        ),
        timezone=location.timezone,
        phone=location.phone,
        latitude=location.latitude,
        longitude=location.longitude,
        opening_hours=[
            OpeningPeriod(day=p.day, opens=p.opens, closes=p.closes) for p in location.opening_hours
        ],
        external_refs=[ExternalRef.from_record(ref) for ref in location.external_refs],
    )


@strawberry.type
class StoreQueries:
    @strawberry.field(
        description="Every store customers can visit, by name; with `near`, nearest first "
        "(each with its `distanceKm`; stores without coordinates left out), only those "
        "within `withinKm` if given. `withStock`: only stores with at least one unit of "
        "every SKU listed, net of pickup holds. Bad coordinates or distances are "
        "BAD_USER_INPUT with a `reason` (INVALID_LATITUDE, INVALID_LONGITUDE, "
        "INVALID_DISTANCE, NEAR_REQUIRED, INVALID_SKUS)."
    )
    async def stores(
        self,
        info: Info,
        near: GeoPointInput | None = None,
        within_km: Annotated[
            float | None,
            strawberry.argument(description="Kilometres from `near`; needs `near`."),
        ] = None,
        with_stock: list[strawberry.ID] | None = None,
    ) -> list[Store]:
        services = info.context.services
        if near is None and within_km is None and not with_stock:
            return [store_from_record(loc) for loc in await services.stores.stores()]
        found = await nearby_stores(
            services.stores,
            services.holds,
            info.context.loaders,
            near=GeoPoint(near.latitude, near.longitude) if near is not None else None,
            within_km=within_km,
            with_stock=[str(sku) for sku in with_stock or ()],
        )
        return [
            dataclasses.replace(store_from_record(row.location), distance_km=row.distance_km)
            if row.distance_km is not None
            else store_from_record(row.location)
            for row in found
        ]

    @strawberry.field(description="One store; null when no store has this id.")
    async def store(self, info: Info, id: strawberry.ID) -> Store | None:
        return await Store.resolve_reference(info, id)
