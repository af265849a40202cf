"""Per-request DataLoaders: one instance per request and key type, never shared across users.

`batch_load` answers in key order with None for misses, so a query touching 20 products
makes one call per upstream endpoint, not 20.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from strawberry.dataloader import AbstractCache, DataLoader

from commerce.customers.profile import ProfileRead
from commerce.holds.model import NO_HOLDS, SkuHolds
from commerce.returns.request_model import ReturnRequestRecord
from connectors.records import ProductRecord, StockLevel

if TYPE_CHECKING:
    from gateway.services import Services

T = TypeVar("T")


class _Answers(AbstractCache[str, T]):
    """A loader's cache (Strawberry's `AbstractCache`) that also holds answers as plain
    values: a page load or a priming puts its answers here without a future each, and a
    future is made for a key only when a later `load` asks for it (most never are)."""

    def __init__(self) -> None:
        self.values: dict[str, T] = {}
        self._futures: dict[str, asyncio.Future[T]] = {}

    def holds(self, key: str) -> bool:
        """An answer, or a load on its way, that a load of `key` would be given."""
        if key in self.values:
            return True
        future = self._futures.get(key)
        return future is not None and not future.cancelled()

    def get(self, key: str) -> asyncio.Future[T] | None:
        future = self._futures.get(key)
        if future is None and key in self.values:
            future = asyncio.get_running_loop().create_future()
            future.set_result(self.values[key])
            self._futures[key] = future
        return future

    def set(self, key: str, value: asyncio.Future[T]) -> None:
        self._futures[key] = value
        self.values.pop(key, None)

    def delete(self, key: str) -> None:
        self._futures.pop(key, None)
        self.values.pop(key, None)

    def clear(self) -> None:
        self._futures.clear()
        self.values.clear()


class PageLoader(DataLoader[str, T]):
    """A DataLoader that also answers a page of keys at once: `load_page(keys)` answers
    what `load_many(keys)` would, but reads the keys not asked for yet in one call made
    there and then, without a future, a task and a callback per key and a batch scheduled
    for the next turn of the loop. What it reads (a failure too) is cached as `load`
    would cache it, so later loads of those keys make no call."""

    def __init__(self, batch_load: Callable[[Sequence[str]], Awaitable[list[T]]]) -> None:
        self._batch_load = batch_load
        self._answers = _Answers[T]()
        super().__init__(load_fn=batch_load, cache_map=self._answers)

    async def load_page(self, keys: Sequence[str]) -> list[T]:
        answers = self._answers
        missing = [key for key in dict.fromkeys(keys) if not answers.holds(key)]
        found: dict[str, T] = {}
        if missing:
            try:
                found = dict(zip(missing, await self._batch_load(missing), strict=True))
            except Exception as error:
                self._remember_failure(missing, error)
                raise
            self.put_answers(found)
        values = answers.values
        return [
            found[key] if key in found else values[key] if key in values else await self.load(key)
            for key in keys
        ]

    def put_answers(self, found: Mapping[str, T]) -> None:
        """As `prime_many`: a key already answered or on its way keeps that answer."""
        if self.batch is not None and not self.batch.dispatched:
            self.prime_many(found)  # settles the loads waiting in the batch as well
            return
        answers = self._answers
        for key, value in found.items():
            if not answers.holds(key):
                answers.values[key] = value

    def _remember_failure(self, keys: Sequence[str], error: Exception) -> None:
        for key in keys:
            if not self._answers.holds(key):
                future: asyncio.Future[T] = self.loop.create_future()
                future.set_exception(error)
                future.exception()  # retrieved: the caller of load_page reports it
                self._answers.set(key, future)


class ProductBySkuLoader(PageLoader[ProductRecord | None]):
    def __init__(self, services: Services) -> None:
        async def batch_load(skus: Sequence[str]) -> list[ProductRecord | None]:
            found = await services.ecommerce.products_by_sku(list(skus))
            # for a cart add to fall back on while the e-commerce system fails
            services.recent_catalog.remember_products(found.values())
            return [found.get(sku) for sku in skus]

        super().__init__(batch_load)


class StockBySkuLoader(PageLoader[list[StockLevel]]):
    """Every location's level for a SKU; an empty list where no location counts it."""

    def __init__(self, services: Services) -> None:
        async def batch_load(skus: Sequence[str]) -> list[list[StockLevel]]:
            by_sku: dict[str, list[StockLevel]] = {sku: [] for sku in skus}
            for level in await services.inventory.stock(list(skus)):
                levels = by_sku.get(level.sku)
                if levels is not None:
                    levels.append(level)
            services.recent_catalog.remember_stock(by_sku)
            return [by_sku[sku] for sku in skus]

        super().__init__(batch_load)


class HeldBySkuLoader(PageLoader[SkuHolds]):
    """The live pickup holds on a SKU (commerce/holds): what shown stock is net of."""

    def __init__(self, services: Services) -> None:
        async def batch_load(skus: Sequence[str]) -> list[SkuHolds]:
            found = await services.holds.shown(skus)
            return [found.get(sku, NO_HOLDS) for sku in skus]

        super().__init__(batch_load)


class CustomerByIdLoader(DataLoader[str, ProfileRead | None]):
    def __init__(self, services: Services) -> None:
        # an exception in the answer fails that id's load only
        async def batch_load(ids: Sequence[str]) -> list[ProfileRead | Exception | None]:
            return await services.customers.many(ids)

        super().__init__(load_fn=batch_load)


class ReturnRequestsByOrderLoader(DataLoader[str, list[ReturnRequestRecord]]):
    """Customers' return requests of an order (commerce/returns/requests.py): one MongoDB
    read for a page of orders."""

    def __init__(self, services: Services) -> None:
        async def batch_load(order_ids: Sequence[str]) -> list[list[ReturnRequestRecord]]:
            found = await services.return_requests.of_orders(order_ids)
            return [found[order_id] for order_id in order_ids]

        super().__init__(load_fn=batch_load)


class Loaders:
    """Made on first use: most requests need one or two of them."""

    def __init__(self, services: Services) -> None:
        self._services = services

    @cached_property
    def product_by_sku(self) -> ProductBySkuLoader:
        return ProductBySkuLoader(self._services)

    @cached_property
    def stock_by_sku(self) -> StockBySkuLoader:
        return StockBySkuLoader(self._services)

    @cached_property
    def held_by_sku(self) -> HeldBySkuLoader:
        return HeldBySkuLoader(self._services)

    @cached_property
    def customer_by_id(self) -> CustomerByIdLoader:
        return CustomerByIdLoader(self._services)

    @cached_property
    def return_requests_by_order(self) -> ReturnRequestsByOrderLoader:
        return ReturnRequestsByOrderLoader(self._services)

    def prime_products(self, records: Sequence[ProductRecord]) -> None:
        """Products a catalog search answered: later loads in this request make no call,
        and a cart add may fall back on them as on the loader's own answers."""
        self.product_by_sku.put_answers({record.sku: record for record in records})
        self._services.recent_catalog.remember_products(records)

    # commerce.ports.CatalogReads: the domain reads products and stock through this
    # request's loaders, so it shares their batches and their cache

    async def products(self, skus: Sequence[str]) -> list[ProductRecord | None]:
        return await self.product_by_sku.load_many(skus)

    async def stock(self, skus: Sequence[str]) -> list[list[StockLevel]]:
        return await self.stock_by_sku.load_many(skus)
