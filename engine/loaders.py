"""Per-request DataLoaders: one instance per request and key type, never shared across users.

`batch_load` answers in key order with None for misses, so a query touching 20 products
makes one call per upstream endpoint, not 20.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from commerce.customers.profile import ProfileRead
from commerce.holds.model import NO_HOLDS, SkuHolds
from commerce.returns.request_model import ReturnRequestRecord
from connectors.records import ProductRecord, StockLevel

if TYPE_CHECKING:
    from gateway.services import Services


class ProductBySkuLoader(DataLoader[str, ProductRecord | None]):
    def __init__(self, services: Services) -> None:
        async def batch_load(skus: Sequence[str]) -> list[ProductRecord | None]:
            found = await services.ecommerce.products_by_sku(list(skus))
            # for a cart add to fall back on while the e-commerce system fails
            services.recent_catalog.remember_products(found.values())
            return [found.get(sku) for sku in skus]

        super().__init__(load_fn=batch_load)


class StockBySkuLoader(DataLoader[str, list[StockLevel]]):
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

        self._batch_load = batch_load
        super().__init__(load_fn=batch_load)

    async def load_page(self, skus: Sequence[str]) -> list[list[StockLevel]]:
        """What `load_many(skus)` answers, for a page of products: the SKUs not asked for
        yet are read in one call made here, without a future, a task and a callback per
        SKU and a batch scheduled for the next turn of the loop. The answers (a failure
        too) are cached as `load` would cache them, so later loads make no call."""
        known = {}
        for sku in skus:
            future = self.cache_map.get(sku)
            if future is not None and not future.cancelled():
                known[sku] = future
        missing = [sku for sku in dict.fromkeys(skus) if sku not in known]
        if missing:
            try:
                found = dict(zip(missing, await self._batch_load(missing), strict=True))
            except Exception as error:
                self._remember_failure(missing, error)
                raise
            self.prime_many(found)
        else:
            found = {}
        return [found[sku] if sku in found else await known[sku] for sku in skus]

    def _remember_failure(self, skus: Sequence[str], error: Exception) -> None:
        for sku in skus:
            if self.cache_map.get(sku) is None:
                future: asyncio.Future[list[StockLevel]] = self.loop.create_future()
                future.set_exception(error)
                future.exception()  # retrieved: the caller of load_page reports it
                self.cache_map.set(sku, future)


class HeldBySkuLoader(DataLoader[str, SkuHolds]):
    """The live pickup holds on a SKU (commerce/holds): what shown stock is net of."""

    def __init__(self, services: Services) -> None:
        async def batch_load(skus: Sequence[str]) -> list[SkuHolds]:
            found = await services.holds.shown(skus)
            return [found.get(sku, NO_HOLDS) for sku in skus]

        super().__init__(load_fn=batch_load)


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
        self.product_by_sku.prime_many({record.sku: record for record in records})
        self._services.recent_catalog.remember_products(records)

    # commerce.ports.CatalogReads: the domain reads products and stock through this
    # request's loaders, so it shares their batches and their cache

    async def products(self, skus: Sequence[str]) -> list[ProductRecord | None]:
        return await self.product_by_sku.load_many(skus)

    async def stock(self, skus: Sequence[str]) -> list[list[StockLevel]]:
        return await self.stock_by_sku.load_many(skus)
