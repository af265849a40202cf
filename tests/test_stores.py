"""Stores from the POS: every shop, never the warehouse, with address and hours."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import Any

from commerce.stores import StoreDirectory
from connectors.errors import UpstreamTimeout

STORES = """{ stores {
  id name timezone address { line1 city postalCode country } openingHours { day opens closes }
} }"""


async def test_stores_are_the_shops_not_the_warehouse(gateway, dataset):
    stores = (await gateway.query(STORES))["data"]["stores"]
    assert {s["id"] for s in stores} == {loc.id for loc in dataset.stores}
    assert dataset.warehouse.id not in {s["id"] for s in stores}
    assert [s["name"] for s in stores] == sorted(s["name"] for s in stores)


async def test_store_has_its_address_and_opening_hours(gateway, dataset):
    location = dataset.stores[1]
    body = await gateway.query(
        "query ($id: ID!) { store(id: $id) { name address { line1 city region postalCode country }"
        " openingHours { day opens closes } } }",
        {"id": location.id},
    )
    store = body["data"]["store"]
    assert store["name"] == location.name
    assert store["address"] == {
        "line1": location.address_line_1,
        "city": location.locality,
        "region": location.administrative_district_level_1,
        "postalCode": location.postal_code,
        "country": location.country,
    }
    assert store["openingHours"] == [
        {"day": day, "opens": start[:5], "closes": end[:5]}
        for day, start, end in location.business_hours
    ]


async def test_unknown_or_warehouse_store_is_null(gateway, dataset):
    for store_id in ("LNOSUCHSTORE1", dataset.warehouse.id):
        body = await gateway.query("query ($id: ID!) { store(id: $id) { id } }", {"id": store_id})
        assert body == {"data": {"store": None}}


class _LocationsThatFailLate:
    """A POS whose locations read fails only once every reader has given up."""

    service = "square"

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def locations(self) -> list[Any]:
        await self.release.wait()
        raise UpstreamTimeout("square", "square.locations.list", "no answer")


async def test_a_failed_locations_read_nobody_waits_for_is_not_logged_as_lost(caplog):
    pos = _LocationsThatFailLate()
    stores = StoreDirectory(pos, ttl_seconds=60)  # type: ignore[arg-type]
    reader = asyncio.create_task(stores.all())
    await asyncio.sleep(0)
    reader.cancel()  # the request's deadline
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    pos.release.set()
    for _ in range(3):
        await asyncio.sleep(0)
    refresh = stores._refresh
    assert refresh is not None
    assert refresh.done()
    del refresh, reader
    stores._refresh = None
    gc.collect()
    assert [r for r in caplog.records if "never retrieved" in r.getMessage()] == []
