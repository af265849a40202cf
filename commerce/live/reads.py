"""Current stock and products for live subscribers, read once per wave for the whole process.

Every subscriber woken by the same change asks for its SKUs in the same turn of the event
loop; those asks are merged into one upstream call per location (and one for products),
started after the last of them was made, so a change heard of before the ask is always in
the answer. Nothing is cached: a live subscriber wants the value as it is now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from commerce.stores import StoreDirectory
from connectors.ports import EcommercePort, InventoryPort
from connectors.records import ProductRecord

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Fetch = Callable[[K, list[str]], Awaitable[dict[str, V]]]


class _Wave(Generic[K, V]):
    """Asks made in one loop turn, merged per key into one fetch each."""

    def __init__(self, fetch: Fetch[K, V]) -> None:
        self._fetch = fetch
        self._asks: dict[K, list[tuple[list[str], asyncio.Future[dict[str, V]]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def read(self, key: K, skus: list[str]) -> dict[str, V]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, V]] = loop.create_future()
        if not self._asks:
            loop.call_soon(self._flush)
        self._asks.setdefault(key, []).append((skus, future))
        return await future

    def _flush(self) -> None:
        asks, self._asks = self._asks, {}
        for key, waiting in asks.items():
            task = asyncio.create_task(self._run(key, waiting))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(
        self, key: K, waiting: list[tuple[list[str], asyncio.Future[dict[str, V]]]]
    ) -> None:
        skus = list(dict.fromkeys(sku for asked, _ in waiting for sku in asked))
        try:
            found = await self._fetch(key, skus)
        except Exception as error:
            for _, future in waiting:
                if not future.done():
                    future.set_exception(error)
            return
        for asked, future in waiting:
            if not future.done():
                future.set_result({sku: found[sku] for sku in asked if sku in found})


class LiveReads:
    def __init__(
        self, inventory: InventoryPort, ecommerce: EcommercePort, stores: StoreDirectory
    ) -> None:
        self._inventory = inventory
        self._ecommerce = ecommerce
        self._stores = stores
        self._stock = _Wave[str | None, int](self._fetch_stock)
        self._products = _Wave[None, ProductRecord](self._fetch_products)

    async def stock(self, location_id: str | None, skus: list[str]) -> dict[str, int]:
        """Sellable quantity per SKU at the store, or online (every warehouse) for None;
        0 where nothing is counted."""
        return await self._stock.read(location_id, skus)

    async def products(self, skus: list[str]) -> dict[str, ProductRecord]:
        """The products the e-commerce system knows; a SKU it does not is left out."""
        return await self._products.read(None, skus)

    async def _fetch_stock(self, location_id: str | None, skus: list[str]) -> dict[str, int]:
        locations: Sequence[str] | None = None
        if location_id is not None:
            locations = [location_id]
        else:
            known = await self._stores.all()
            locations = [lid for lid, location in known.items() if location.is_warehouse]
        quantities = dict.fromkeys(skus, 0)
        for level in await self._inventory.stock(skus, locations):
            if level.sku in quantities and level.quantity > 0:
                quantities[level.sku] += level.quantity
        return quantities

    async def _fetch_products(self, _: None, skus: list[str]) -> dict[str, ProductRecord]:
        return await self._ecommerce.products_by_sku(skus)
