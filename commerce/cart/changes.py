"""Cart changes for `cartUpdated` subscribers, from a MongoDB change stream.

Every gateway process opens one change stream on `carts` (when its first subscriber
arrives) and hands each changed cart to that process's subscribers of that cart. A change
made through any pod reaches devices connected to any other pod, with MongoDB as the only
channel between them: no broker of our own.

Each event carries the whole cart (`updateLookup`), so a slow subscriber only needs the
newest one: its queue holds one cart and a newer one replaces it. Versions only grow, so a
subscriber never goes back to an older cart.

Every process receives every cart change (filtering per subscribed id would mean reopening
the stream on each subscribe); at the scale where that matters, shard the stream by
`_id` ranges or move to `$match` on a maintained id set.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from commerce.cart.store import StoredCart
from commerce.tasks import cancel_and_wait

log = logging.getLogger(__name__)
Document = dict[str, Any]
WATCHED = [{"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}}]


class FeedUnavailable(Exception):
    """MongoDB did not open the change stream in time: no live updates can be promised."""


class CartChangeFeed:
    def __init__(
        self,
        carts: AsyncCollection[Document],
        retry_seconds: float = 1.0,
        open_timeout_seconds: float = 5.0,
    ) -> None:
        self._carts = carts
        self._retry_seconds = retry_seconds
        self._open_timeout_seconds = open_timeout_seconds
        self._subscribers: defaultdict[str, set[asyncio.Queue[StoredCart]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._open = asyncio.Event()

    @asynccontextmanager
    async def subscribe(self, cart_id: str) -> AsyncIterator[asyncio.Queue[StoredCart]]:
        """A queue that receives each later version of the cart. It is registered only once
        the stream is open, so a change made after this returns is never missed."""
        self._ensure_watching()
        try:
            await asyncio.wait_for(self._open.wait(), self._open_timeout_seconds)
        except TimeoutError as exc:
            raise FeedUnavailable("the cart change stream could not be opened") from exc
        queue: asyncio.Queue[StoredCart] = asyncio.Queue(maxsize=1)
        self._subscribers[cart_id].add(queue)
        try:
            yield queue
        finally:
            queues = self._subscribers.get(cart_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._subscribers[cart_id]

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    def _ensure_watching(self) -> None:
        if self._task is None or self._task.done():
            self._open.clear()
            self._task = asyncio.create_task(self._watch(), name="cart-change-stream")

    async def _watch(self) -> None:
        resume_token: Mapping[str, Any] | None = None
        while True:
            try:
                stream = await self._carts.watch(
                    WATCHED, full_document="updateLookup", resume_after=resume_token
                )
                async with stream:
                    self._open.set()
                    async for change in stream:
                        resume_token = stream.resume_token
                        self._dispatch(change)
            except PyMongoError as exc:
                # Resume where we were once MongoDB is back (within its oplog window).
                log.warning("cart change stream interrupted, resuming: %s", exc)
                await asyncio.sleep(self._retry_seconds)

    def _dispatch(self, change: Document) -> None:
        doc = change.get("fullDocument")
        if doc is None:  # deleted before the lookup: nothing to show
            return
        queues = self._subscribers.get(doc["_id"])
        if not queues:
            return
        cart = StoredCart.from_document(doc)
        for queue in queues:
            if queue.full():
                queue.get_nowait()  # only the newest cart matters
            queue.put_nowait(cart)
