"""What the domain reads from outside itself, as narrow ports it defines.

The customer, order and store systems reach the domain through connectors.ports (one
Protocol per upstream domain). Products and stock are read through `CatalogReads` instead:
the GraphQL layer implements it with its per-request loaders (engine/loaders.py), so a cart
priced in the same request that shows its products costs no second upstream call, and one
request never sees two different prices for a SKU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from connectors.records import ProductRecord, StockLevel


class CatalogReads(Protocol):
    async def products(self, skus: Sequence[str]) -> list[ProductRecord | None]:
        """In the order asked, None for a SKU the catalog does not know."""
        ...

    async def stock(self, skus: Sequence[str]) -> list[list[StockLevel]]:
        """Every location's level for each SKU, in the order asked; [] where none counts it."""
        ...
