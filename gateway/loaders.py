"""Per-request DataLoaders: one instance per request and key type, never shared across users.

`batch_load` answers in key order with None for misses, so a query touching 20 products
makes one call per upstream endpoint, not 20.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from connectors.records import ProductRecord, StockLevel
from gateway.services.profile import ProfileRead

if TYPE_CHECKING:
    from gateway.wiring import Services


class ProductBySkuLoader(DataLoader[str, ProductRecord | None]):
    def __init__(self, services: Services) -> None:
        async def batch_load(skus: Sequence[str]) -> list[ProductRecord | None]:
            found = await services.ecommerce.products_by_sku(list(skus))
            return [found.get(sku) for sku in skus]

        super().__init__(load_fn=batch_load)


class StockBySkuLoader(DataLoader[str, list[StockLevel]]):
    """Every location's level for a SKU; an empty list where no location counts it."""

    def __init__(self, services: Services) -> None:
        async def batch_load(skus: Sequence[str]) -> list[list[StockLevel]]:
            by_sku: dict[str, list[StockLevel]] = {sku: [] for sku in skus}
            for level in await services.inventory.stock(list(skus)):
                if level.sku in by_sku:
                    by_sku[level.sku].append(level)
            return [by_sku[sku] for sku in skus]

        super().__init__(load_fn=batch_load)


class CustomerByIdLoader(DataLoader[str, ProfileRead | None]):
    def __init__(self, services: Services) -> None:
        async def batch_load(ids: Sequence[str]) -> list[ProfileRead | None]:
            return await services.customers.many(ids)

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
    def customer_by_id(self) -> CustomerByIdLoader:
        return CustomerByIdLoader(self._services)
