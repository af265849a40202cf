"""Cart changes for `cartUpdated` subscribers, from a MongoDB change stream.

Every gateway process opens one change stream on `carts` (when its first subscriber
arrives) and hands each changed cart to that process's subscribers of that cart. A change
made through any pod reaches devices connected to any other pod, with MongoDB as the only
channel between them: no broker of our own.

Each event carries the whole cart (`updateLookup`), so a slow subscriber only needs the
newest one: a newer cart replaces the one it has not taken yet. Versions only grow, so a
subscriber never goes back to an older cart.

When the stream breaks (the primary is lost, MongoDB is unreachable) every subscriber is
told INTERRUPTED; the stream is reopened from the last resume token, and once it is open
again every subscriber is told RESUMED, on which it reads its cart afresh: whatever
happened while the stream was down, even past what the resume token can recover (an oplog
that moved on), the subscriber ends on the cart as it is.

Every process receives every cart change (filtering per subscribed id would mean reopening
the stream on each subscribe); at the scale where that matters, shard the stream by
`_id` ranges or move to `$match` on a maintained id set.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from commerce.cart.store import StoredCart
from commerce.change_streams import FollowedStream

log = logging.getLogger(__name__)
Document = dict[str, Any]
WATCHED = [{"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}}]


class FeedState(enum.Enum):
    INTERRUPTED = "INTERRUPTED"  # the stream broke: changes may be arriving late or not at all
    RESUMED = "RESUMED"  # the stream is open again: read the cart as it is now


CartFeedItem = StoredCart | FeedState


class CartWatch:
    """One subscriber's share of the feed: what it has not taken yet, in order, kept short.
    A newer cart replaces an untaken cart; a second interruption before the subscriber took
    the first drops what came between (the RESUMED that follows makes it read the cart), so
    at most a cart, INTERRUPTED, RESUMED and a cart wait."""

    def __init__(self) -> None:
        self._pending: list[CartFeedItem] = []
        self._ready = asyncio.Event()

    def put(self, item: CartFeedItem) -> None:
        pending = self._pending
        if isinstance(item, StoredCart) and pending and isinstance(pending[-1], StoredCart):
            pending[-1] = item
        elif item is FeedState.INTERRUPTED and FeedState.INTERRUPTED in pending:
            del pending[pending.index(FeedState.INTERRUPTED) + 1 :]
        else:
            pending.append(item)
        self._ready.set()

    async def get(self) -> CartFeedItem:
        while not self._pending:
            self._ready.clear()
            await self._ready.wait()
        return self._pending.pop(0)


class CartChangeFeed:
    def __init__(
        self,
        carts: AsyncCollection[Document],
        retry_seconds: float = 1.0,
        open_timeout_seconds: float = 5.0,
        await_seconds: float = 1.0,
    ) -> None:
        """`await_seconds`: how long one read of the stream waits for a change on the
        server; below the client's operation timeout, or an idle stream would time out."""
        await_ms = max(1, int(await_seconds * 1000))
        self._subscribers: defaultdict[str, set[CartWatch]] = defaultdict(set)
        self._stream = FollowedStream(
            lambda token: carts.watch(
                WATCHED,
                full_document="updateLookup",
                resume_after=token,
                max_await_time_ms=await_ms,
            ),
            name="cart change stream",
            on_change=self._dispatch,
            on_interrupted=lambda: self._broadcast(FeedState.INTERRUPTED),
            # after a break, or a stream ended by itself: subscribers read their carts
            on_resumed=lambda: self._broadcast(FeedState.RESUMED),
            retry_seconds=retry_seconds,
            open_timeout_seconds=open_timeout_seconds,
        )

    @asynccontextmanager
    async def subscribe(self, cart_id: str) -> AsyncIterator[CartWatch]:
        """A watch that receives each later version of the cart, and the feed's
        interruptions. It is registered only once the stream has opened, so a change made
        after this returns is never missed; one registered while the stream is down starts
        with INTERRUPTED."""
        await self._stream.wait_open()
        watch = CartWatch()
        if self._stream.interrupted:
            watch.put(FeedState.INTERRUPTED)
        self._subscribers[cart_id].add(watch)
        try:
            yield watch
        finally:
            watches = self._subscribers.get(cart_id)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._subscribers[cart_id]

    async def close(self) -> None:
        await self._stream.close()

    def _broadcast(self, state: FeedState) -> None:
        for watches in self._subscribers.values():
            for watch in watches:
                watch.put(state)

    def _dispatch(self, change: Document) -> None:
        doc = change.get("fullDocument")
        if doc is None:  # deleted before the lookup: nothing to show
            return
        watches = self._subscribers.get(doc["_id"])
        if not watches:
            return
        cart = StoredCart.from_document(doc)
        for watch in watches:
            watch.put(cart)
