"""Where a change of held stock is announced: one hook, called after the change is stored.

A hold taken, moved or released changes what everyone else sees available at that store.
Whatever pushes stock changes to subscribers implements `StockChanges` and is handed to the
wiring; until then `NoStockChanges` drops the news. It is called after the MongoDB write
commits, never inside a transaction that could still roll back.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol


class StockChanges(Protocol):
    async def stock_changed(self, store_id: str, skus: Collection[str]) -> None:
        """The availability of `skus` at `store_id` changed (a hold taken, changed or
        released). Must not raise: the change it reports is already stored."""
        ...


class NoStockChanges:
    """Nobody listens yet."""

    async def stock_changed(self, store_id: str, skus: Collection[str]) -> None:
        return None
