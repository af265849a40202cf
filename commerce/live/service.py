"""`stockChanged` and `productChanged` as the domain serves them: argument checks, who may
follow what, then the feed's updates read afresh (commerce/live/follow.py)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass

from commerce.access import live_stock_scope
from commerce.errors import BadUserInput, NotFound
from commerce.live.changes import ChangeKind
from commerce.live.feed import CatalogChangeFeed
from commerce.live.follow import LiveUpdate, follow
from commerce.live.reads import LiveReads
from commerce.live.watch import Interest, LiveWatch
from commerce.principal import Principal
from commerce.stores import StoreDirectory
from connectors.records import ProductRecord


@dataclass(frozen=True, slots=True)
class LiveLimits:
    # SKUs one subscription may follow
    max_skus: int = 250
    # a subscriber whose last message has not left for this long, while more changes
    # come, is dropped
    max_lag_seconds: float = 10.0
    # changed SKUs waiting for a subscriber of a whole store's stock before it is dropped
    max_pending: int = 1000
    # one subscriber's messages at least this far apart (a burst is gathered meanwhile)
    min_interval_seconds: float = 0.2


class LiveCatalog:
    def __init__(
        self,
        feed: CatalogChangeFeed,
        reads: LiveReads,
        stores: StoreDirectory,
        limits: LiveLimits,
    ) -> None:
        self.feed = feed
        self.reads = reads
        self._stores = stores
        self._limits = limits

    async def stock(
        self,
        principal: Principal,
        store_id: str | None,
        skus: Sequence[str] | None,
        on_fell_behind: Callable[[], None] | None = None,
    ) -> AsyncGenerator[LiveUpdate[int], None]:
        """The stock of `skus` at the store (None: online) now, then as it changes; every
        SKU of the store when `skus` is None (changes only). Refusals are raised on the
        first step, before anything is read."""
        live_stock_scope(principal, store_id)
        wanted = self._checked(skus, allow_all=store_id is not None)
        if store_id is not None:
            location = await self._stores.get(store_id)
            if location is None or location.is_warehouse:
                raise NotFound("No store has this id.", field="storeId")
        watch = self._watch(Interest(ChangeKind.STOCK, store_id, wanted), on_fell_behind)

        async def read(changed: list[str]) -> dict[str, int]:
            return await self.reads.stock(store_id, changed)

        async with self.feed.subscribe(watch):
            async for update in follow(watch, read, self._limits.min_interval_seconds):
                yield update

    async def products(
        self,
        principal: Principal,
        skus: Sequence[str],
        on_fell_behind: Callable[[], None] | None = None,
    ) -> AsyncGenerator[LiveUpdate[ProductRecord], None]:
        """The products now, then each as its price, name or images change."""
        live_stock_scope(principal, None)
        wanted = self._checked(skus, allow_all=False)
        watch = self._watch(Interest(ChangeKind.PRODUCT, None, wanted), on_fell_behind)
        async with self.feed.subscribe(watch):
            interval = self._limits.min_interval_seconds
            async for update in follow(watch, self.reads.products, interval):
                yield update

    def _checked(self, skus: Sequence[str] | None, *, allow_all: bool) -> frozenset[str] | None:
        if skus is None and allow_all:
            return None
        wanted = frozenset(skus or ())
        if not wanted:
            raise BadUserInput("Name at least one SKU.", field="skus")
        if len(wanted) > self._limits.max_skus:
            raise BadUserInput(
                f"At most {self._limits.max_skus} SKUs per subscription.", field="skus"
            )
        return wanted

    def _watch(self, interest: Interest, on_fell_behind: Callable[[], None] | None) -> LiveWatch:
        return LiveWatch(
            interest,
            max_lag_seconds=self._limits.max_lag_seconds,
            max_pending=self._limits.max_pending,
            on_fell_behind=on_fell_behind,
        )
