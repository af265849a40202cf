"""The reads of a cart write that may fall back on the recent catalog (commerce/recent_catalog.py).

A shopper adding to a cart must not lose the add because one price or stock read was
throttled or found the upstream down: the read is answered with what the upstream said
lately, and the lines priced that way are flagged for re-pricing (`needs_repricing`), which
checkout does from the source (docs/cart.md "When prices cannot be read"). Only failures
that say nothing about the request fall back (throttled, timed out, unavailable, the
breaker open); a refusal of our request (`UpstreamRejected`: a bad token, a bug) does not.
If any SKU asked for is not in the recent catalog, the upstream's own error is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from commerce.ports import CatalogReads
from commerce.recent_catalog import RecentCatalog
from connectors.errors import UpstreamError, UpstreamRejected
from connectors.records import ProductRecord, StockLevel


def may_fall_back(error: UpstreamError) -> bool:
    return not isinstance(error, UpstreamRejected)


@dataclass(frozen=True, slots=True)
class LineProducts:
    records: list[ProductRecord | None]
    # answered by the recent catalog, not the price source: the lines need re-pricing
    recent: bool


async def products_or_recent(
    reads: CatalogReads, recent: RecentCatalog, skus: Sequence[str]
) -> LineProducts:
    try:
        return LineProducts(await reads.products(skus), recent=False)
    except UpstreamError as error:
        remembered = recent.products(skus) if may_fall_back(error) else None
        if remembered is None:
            raise
        return LineProducts(list(remembered), recent=True)


async def stock_or_recent(
    reads: CatalogReads, recent: RecentCatalog, skus: Sequence[str]
) -> list[list[StockLevel]]:
    try:
        return await reads.stock(skus)
    except UpstreamError as error:
        remembered = recent.stock(skus) if may_fall_back(error) else None
        if remembered is None:
            raise
        return remembered
