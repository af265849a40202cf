"""Holds as the cart and checkout use them: a cart change and its holds in one transaction.

A pickup cart's holds always mirror its lines: every change of the cart's lines or
fulfilment is written in the same MongoDB transaction as the holds it implies (commerce/
holds/store.py), so the cart never holds more or less than it shows, whatever pod or retry
wrote it, and a hold the store cannot give rolls the cart change back (HoldRefused).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from commerce.holds.changes import NoStockChanges, StockChanges
from commerce.holds.model import SkuHolds
from commerce.holds.shown import ShownHolds
from commerce.holds.store import HoldKey, HoldStore
from commerce.transactions import in_transaction

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HoldPlan:
    """What a cart holds after a change: `quantities` at `store_id`, or nothing anywhere
    (`store_id` None). `checked` SKUs must fit on their `shelf` count beside other carts'
    holds (they were raised, or the store is new to the cart)."""

    cart_id: str
    store_id: str | None
    quantities: Mapping[str, int] = field(default_factory=dict)
    shelf: Mapping[str, int] = field(default_factory=dict)
    checked: Collection[str] = ()


class StockHolds:
    def __init__(
        self,
        store: HoldStore,
        mongo: AsyncMongoClient[dict[str, Any]],
        changes: StockChanges | None = None,
        *,
        shown_for_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self._mongo = mongo
        self._changes: StockChanges = changes or NoStockChanges()
        self._shown = ShownHolds(store.held, shown_for_seconds)

    async def held(self, skus: Sequence[str]) -> dict[str, SkuHolds]:
        """The live holds on each SKU (absent: none held), read now: what a cart checks."""
        return await self.store.held(skus)

    async def shown(self, skus: Sequence[str]) -> dict[str, SkuHolds]:
        """The holds on each SKU as pages show them: up to `shown_for_seconds` old
        (commerce/holds/shown.py)."""
        return await self._shown.held(skus)

    def forget_shown(self, skus: Iterable[str]) -> None:
        """Another pod changed holds on `skus` (the live change feed says so)."""
        self._shown.forget(skus)

    async def of_cart(self, cart_id: str) -> dict[HoldKey, int]:
        return await self.store.of_cart(cart_id)

    async def change_cart(
        self,
        write: Callable[[AsyncClientSession], Awaitable[T | None]],
        plan: Callable[[T], HoldPlan],
    ) -> T | None:
        """`write` (the cart change, None if its preconditions failed) and the holds `plan`
        gives for its result, in one transaction; raises HoldRefused, having written
        nothing, when the store cannot hold a checked SKU."""
        changed: set[HoldKey] = set()

        async def work(session: AsyncClientSession) -> T | None:
            changed.clear()  # a retried transaction starts over
            written = await write(session)
            if written is not None:
                changed.update(await self.apply(session, plan(written)))
            return written

        written = await in_transaction(self._mongo, work)
        await self.announce(changed)
        return written

    async def apply(self, session: AsyncClientSession, plan: HoldPlan) -> set[HoldKey]:
        """`plan` written in the caller's transaction; the (store, SKU)s it changed."""
        if plan.store_id is None:
            return await self.store.release(session, plan.cart_id)
        return await self.store.hold(
            session, plan.cart_id, plan.store_id, plan.quantities, plan.shelf, plan.checked
        )

    async def announce(self, changed: Collection[HoldKey]) -> None:
        """Tells the StockChanges hook, once per store, which SKUs' availability moved."""
        by_store: dict[str, set[str]] = defaultdict(set)
        for store_id, sku in changed:
            by_store[store_id].add(sku)
        self._shown.forget(sku for _, sku in changed)
        for store_id, skus in by_store.items():
            try:
                await self._changes.stock_changed(store_id, skus)
            except Exception:  # the change is stored: a listener's failure must not undo it
                log.exception("stock change of %s at %s not announced", sorted(skus), store_id)
