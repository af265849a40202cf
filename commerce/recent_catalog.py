"""The product and stock answers this process had lately, for a cart write to fall back on
while the upstream that gives them is throttling or down (docs/cart.md "When prices
cannot be read").

Every product and stock answer the request loaders get (engine/loaders.py) is remembered
here for `ttl_seconds`, at most `max_skus` SKUs of each (the least recently answered
forgotten first). Nothing serves a read from it: only a cart add or a quantity raise asks
it, and only after the live read failed. A SKU it does not hold fails as before, with the
upstream's error: a SKU the catalog did not name lately is never guessed. A change heard
of through the live catalog feed (a vendor webhook, an own write) forgets the SKU at once. Kept per
process, not in MongoDB; docs/cart.md says why.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Generic, TypeVar

from commerce.customers.cache import CacheLookups
from connectors.records import ProductRecord, StockLevel

T = TypeVar("T")
Clock = Callable[[], float]


class _Remembered(Generic[T]):
    """SKU -> (when answered, the answer), oldest answer first."""

    def __init__(self, ttl_seconds: float, max_skus: int, clock: Clock) -> None:
        self._ttl = ttl_seconds
        self._max = max_skus
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def put_all(self, answers: Iterable[tuple[str, T]]) -> None:
        if self._ttl <= 0:
            return
        now = self._clock()
        entries = self._entries
        for sku, answer in answers:
            entries[sku] = (now, answer)
            entries.move_to_end(sku)
        while len(entries) > self._max:
            entries.popitem(last=False)

    def forget(self, skus: Iterable[str]) -> None:
        for sku in skus:
            self._entries.pop(sku, None)

    def get_all(self, skus: Sequence[str]) -> list[T] | None:
        """Every SKU's answer if each is held and young enough; None otherwise."""
        oldest = self._clock() - self._ttl
        found = []
        for sku in skus:
            entry = self._entries.get(sku)
            if entry is None or entry[0] <= oldest:
                return None
            found.append(entry[1])
        return found


class RecentCatalog:
    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_skus: int,
        lookups: CacheLookups | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        """`ttl_seconds` 0 remembers nothing (cart writes then fail with the upstream)."""
        self._products = _Remembered[ProductRecord](ttl_seconds, max_skus, clock)
        self._stock = _Remembered[list[StockLevel]](ttl_seconds, max_skus, clock)
        self._lookups = lookups

    def remember_products(self, records: Iterable[ProductRecord]) -> None:
        self._products.put_all((record.sku, record) for record in records)

    def remember_stock(self, levels: Mapping[str, list[StockLevel]]) -> None:
        """Each SKU's levels at every location, [] where none counts it (an answer too)."""
        self._stock.put_all(levels.items())

    def forget_products(self, skus: Iterable[str]) -> None:
        """A vendor said these changed: the values held are no longer the ones to fall
        back on (commerce/live/feed.py calls this on every pod)."""
        self._products.forget(skus)

    def forget_stock(self, skus: Iterable[str]) -> None:
        self._stock.forget(skus)

    def products(self, skus: Sequence[str]) -> list[ProductRecord] | None:
        """Each SKU's product as last answered, or None unless every one is held."""
        return self._counted("recent_products", self._products.get_all(skus))

    def stock(self, skus: Sequence[str]) -> list[list[StockLevel]] | None:
        """Each SKU's levels as last answered, or None unless every one is held."""
        return self._counted("recent_stock", self._stock.get_all(skus))

    def _counted(self, cache: str, found: list[T] | None) -> list[T] | None:
        # asked only while an upstream fails: the count shows how often a write was saved
        if self._lookups is not None:
            self._lookups.count_cache_lookup(cache, "miss" if found is None else "hit")
        return found
