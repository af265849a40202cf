"""Orders that may have changed, written where every pod sees it, and each pod's feed of them.

An order lives in the system that took it (Square, Shopify), not in omnigate; what omnigate
records is only *that* an order may have changed: one document per change in
`order_changes` (order ids, time; a TTL index removes them after `retention`). The sources
are the vendors' signed webhooks (a payment, a refund, an order or a fulfilment updated)
and omnigate's own writes (a store order settled, a return refunded). Like the live
catalog (commerce/live/changes.py), a change carries no values, so a subscriber reads the
order after it hears of the change and two writers racing never leave a stale value.

Each gateway process follows the collection's change stream while it has subscribers and
wakes the watches of the orders a change names; a broken stream is resumed from its token,
and once open again every watch re-reads its order (whatever the break hid).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from commerce.change_streams import ChangeLog, FollowedStream, inserts_into

log = logging.getLogger(__name__)
Document = dict[str, Any]
COLLECTION = "order_changes"


class OrderChangeSink(Protocol):
    async def order_changed(self, order_ids: Collection[str]) -> None:
        """The orders may have changed (paid, refunded, fulfilled): their followers re-read
        them. Raises PyMongoError if the change could not be recorded."""
        ...


async def announce_order_change(sink: OrderChangeSink | None, order_id: str) -> None:
    """Tells `sink` an omnigate write changed the order. Best effort: the write stands
    whether or not followers hear of it (a follower's next change, or its re-subscription,
    shows it)."""
    if sink is None:
        return
    try:
        await sink.order_changed([order_id])
    except PyMongoError as exc:
        log.warning("order %s: its followers not told of a change: %s", order_id, exc)


class OrderChanges(ChangeLog):
    """Records changes: what the webhooks and omnigate's own order writes call."""

    def __init__(
        self, database: AsyncDatabase[Document], retention: timedelta = timedelta(hours=1)
    ) -> None:
        super().__init__(database, COLLECTION, retention)

    async def order_changed(self, order_ids: Collection[str]) -> None:
        unique = list(dict.fromkeys(order_ids))
        if unique:
            await self.append({"orders": unique})


class OrderWatch:
    """One follower's flag: set when its order may have changed since it last read it."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        self._changed = asyncio.Event()

    def mark(self) -> None:
        self._changed.set()

    async def wait(self) -> None:
        """Returns once the order may have changed since the last return; changes that came
        meanwhile are one (the follower reads the order as it is now)."""
        await self._changed.wait()
        self._changed.clear()


class OrderChangeFeed:
    def __init__(
        self,
        changes: AsyncCollection[Document],
        *,
        retry_seconds: float = 1.0,
        open_timeout_seconds: float = 5.0,
        await_seconds: float = 1.0,
    ) -> None:
        self._by_order: defaultdict[str, set[OrderWatch]] = defaultdict(set)
        self._stream = FollowedStream(
            inserts_into(changes, await_seconds),
            name="order change stream",
            on_change=self._on_change,
            on_interrupted=lambda: None,
            on_resumed=self._mark_all,
            retry_seconds=retry_seconds,
            open_timeout_seconds=open_timeout_seconds,
        )

    @property
    def followers(self) -> int:
        return sum(len(watches) for watches in self._by_order.values())

    @asynccontextmanager
    async def follow(self, order_id: str) -> AsyncIterator[OrderWatch]:
        """A watch of the order, registered once the stream is open, so no change recorded
        after this returns is missed. Raises FeedUnavailable if the stream cannot open."""
        await self._stream.wait_open()
        watch = OrderWatch(order_id)
        self._by_order[order_id].add(watch)
        try:
            yield watch
        finally:
            watches = self._by_order.get(order_id)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._by_order[order_id]

    async def close(self) -> None:
        await self._stream.close()

    def _on_change(self, change: Document) -> None:
        doc = change.get("fullDocument") or {}
        for order_id in doc.get("orders") or ():
            for watch in self._by_order.get(order_id, ()) if isinstance(order_id, str) else ():
                watch.mark()

    def _mark_all(self) -> None:
        for watches in self._by_order.values():
            for watch in watches:
                watch.mark()
