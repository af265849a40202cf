"""Where a product can be had now: the online quantity, and the stores that range it ranked
by the rule every channel shows (most stock first, then by name).

Generic over the caller's view of a store, so the GraphQL layer ranks its own Store objects
directly: this runs for every product of a page, on the path the shopper waits on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from connectors.records import StockLevel


class Named(Protocol):
    @property
    def name(self) -> str: ...


StoreT = TypeVar("StoreT", bound=Named)

# (-quantity, store name, order in the levels, store): a plain sort ranks them, most stock
# first, then by name, equal rows keeping the inventory's order
RankedStore = tuple[int, str, int, StoreT]


def rank_stock(
    stores: Mapping[str, StoreT | None], levels: Sequence[StockLevel]
) -> tuple[int, list[RankedStore[StoreT]]]:
    """The online quantity (every warehouse: `stores` maps a warehouse to None) and the
    stores ranked. A location `stores` does not list is not ours to show; a negative count
    (oversold) shows as 0."""
    online = 0
    ranked: list[RankedStore[StoreT]] = []
    for order, level in enumerate(levels):
        try:
            store = stores[level.location_id]
        except KeyError:
            continue
        quantity = level.quantity
        if quantity < 0:
            quantity = 0
        if store is None:
            online += quantity
        else:
            ranked.append((-quantity, store.name, order, store))
    ranked.sort()
    return online, ranked
