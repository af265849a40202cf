"""Stores: location, address and opening hours, from the POS."""

from __future__ import annotations

import strawberry

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
    @strawberry.field(description="Every store customers can visit, by name.")
    async def stores(self, info: Info) -> list[Store]:
        return [store_from_record(loc) for loc in await info.context.services.stores.stores()]

    @strawberry.field(description="One store; null when no store has this id.")
    async def store(self, info: Info, id: strawberry.ID) -> Store | None:
        return await Store.resolve_reference(info, id)
