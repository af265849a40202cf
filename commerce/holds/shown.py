"""Other carts' holds as pages show them: remembered by each pod for a second.

Every product page, store stock list and cart line shows stock net of pickup holds, and
reading the holds took MongoDB round trips on every page: 18% of the product page's gateway
CPU (bench/README.md, 2.44 against 2.01 ms in process). What a page shows may be a
moment old anyway (the shelf counts are the vendor's, pushed by webhook), so each pod keeps
what it read of a SKU's holds for `ttl_seconds`:

- a hold this pod takes, moves or releases forgets its SKUs before it is announced, so
  this pod's pages show it at once;
- a hold another pod changes reaches this pod's live change feed while that feed is open
  (it is, while a display subscribes here), which forgets the SKUs too; otherwise this pod
  shows it within `ttl_seconds`;
- an expired hold is shown as held for at most `ttl_seconds` more.

What a cart may hold is never read from here: a cart change checks its store's shelf
against a fresh read, and the hold's own conditional update decides the last unit
(commerce/holds/store.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from commerce.holds.model import SkuHolds

ReadHolds = Callable[[Sequence[str]], Awaitable[dict[str, SkuHolds]]]
# past this many remembered SKUs the expired ones are dropped, and all if that is not enough
MAX_REMEMBERED = 20_000


class ShownHolds:
    def __init__(
        self,
        read: ReadHolds,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._ttl = ttl_seconds
        self._clock = clock
        # sku -> (when it stops being reused, its holds or None for none)
        self._remembered: dict[str, tuple[float, SkuHolds | None]] = {}
        # counts every forget: a read that began before one may hold what it forgot
        self._forgets = 0

    async def held(self, skus: Sequence[str]) -> dict[str, SkuHolds]:
        """The live holds on each SKU (absent: none held), at most `ttl_seconds` old."""
        if self._ttl <= 0:
            return await self._read(skus)
        now = self._clock()
        found: dict[str, SkuHolds] = {}
        missing = []
        for sku in dict.fromkeys(skus):
            remembered = self._remembered.get(sku)
            if remembered is None or remembered[0] <= now:
                missing.append(sku)
            elif remembered[1] is not None:
                found[sku] = remembered[1]
        if not missing:
            return found
        forgets = self._forgets
        read = await self._read(missing)
        found.update(read)
        if forgets == self._forgets:  # nothing changed meanwhile that this read may miss
            self._remember(now + self._ttl, {sku: read.get(sku) for sku in missing})
        return found

    def forget(self, skus: Iterable[str]) -> None:
        """Holds on `skus` changed: the next read asks MongoDB."""
        self._forgets += 1
        for sku in skus:
            self._remembered.pop(sku, None)

    def _remember(self, until: float, holds: dict[str, SkuHolds | None]) -> None:
        remembered = self._remembered
        if len(remembered) + len(holds) > MAX_REMEMBERED:
            now = self._clock()
            for sku in [sku for sku, (expiry, _) in remembered.items() if expiry <= now]:
                del remembered[sku]
            if len(remembered) + len(holds) > MAX_REMEMBERED:
                remembered.clear()
        for sku, sku_holds in holds.items():
            remembered[sku] = (until, sku_holds)
