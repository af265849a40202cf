"""Live holds as reads see them, and stock net of them.

What a store can still promise is its shelf count (the inventory system's) minus the
quantities live pickup carts hold there. A cart's own hold does not count against itself:
its own check passes `except_cart`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from connectors.records import StockLevel


@dataclass(frozen=True, slots=True)
class SkuHolds:
    """The live holds on one SKU: store id -> cart id -> quantity held."""

    by_store: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def held_at(self, store_id: str, except_cart: str | None = None) -> int:
        carts = self.by_store.get(store_id)
        if not carts:
            return 0
        return sum(quantity for cart_id, quantity in carts.items() if cart_id != except_cart)


NO_HOLDS = SkuHolds()


def net_levels(
    levels: Sequence[StockLevel], holds: SkuHolds, except_cart: str | None = None
) -> list[StockLevel]:
    """`levels` less what other carts hold at each location (at least 0)."""
    if not holds.by_store:
        return list(levels)
    return [
        StockLevel(
            level.sku,
            level.location_id,
            max(level.quantity - holds.held_at(level.location_id, except_cart), 0),
        )
        if level.location_id in holds.by_store
        else level
        for level in levels
    ]


class HoldRefused(Exception):
    """The store cannot hold `wanted` of `sku` for the cart: its shelf holds `available`
    once other carts' holds are taken off. Raised inside the hold's transaction, which it
    rolls back."""

    def __init__(self, store_id: str, sku: str, wanted: int, available: int) -> None:
        super().__init__(f"{store_id}: {wanted} of {sku} wanted, {available} available")
        self.store_id = store_id
        self.sku = sku
        self.wanted = wanted
        self.available = available
