"""One subscriber's view of one cart: each newer version, and the feed's interruptions.

`follow` is what `cartUpdated` streams: the cart as it is on subscribing, then every newer
version from the change feed (commerce/cart/changes.py); INTERRUPTED when the feed breaks;
and, once it is open again, the cart read afresh and marked `resumed`, whether or not it
changed meanwhile, so the subscriber knows it is live again and holds the cart as it is.
It ends after a cart that is closed for good (checked out, merged), that cart included.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from pymongo.errors import PyMongoError

from commerce.cart.changes import CartChangeFeed, FeedState
from commerce.cart.model import CartStatus, StoredCart

log = logging.getLogger(__name__)
CLOSED = frozenset({CartStatus.CHECKED_OUT, CartStatus.MERGED})


@dataclass(frozen=True, slots=True)
class CartVersion:
    cart: StoredCart
    # the first cart after an interruption, read afresh: the feed is live again
    resumed: bool = False


CartRead = Callable[[str], Awaitable[StoredCart | None]]


async def follow(
    feed: CartChangeFeed, read: CartRead, cart_id: str, retry_seconds: float = 1.0
) -> AsyncGenerator[CartVersion | Literal[FeedState.INTERRUPTED], None]:
    """Raises FeedUnavailable if the feed cannot open, PyMongoError if the first read
    fails; after that it only ends with the cart (closed, or gone)."""
    async with feed.subscribe(cart_id) as watch:
        # read after subscribing, so no change falls between the read and the feed
        current = await read(cart_id)
        if current is None:
            return
        yield CartVersion(current)
        version = current.version
        while current.status not in CLOSED:
            item = await watch.get()
            if item is FeedState.INTERRUPTED:
                yield item
                continue
            if item is FeedState.RESUMED:
                # Read from the primary, which holds every version the feed delivered.
                fresh = await _read_once_back(read, cart_id, retry_seconds)
                if fresh is None:
                    return
                current, resumed = fresh, True
            elif item.version > version:
                current, resumed = item, False
            else:
                continue  # an older version, replayed by a resumed stream
            version = current.version
            yield CartVersion(current, resumed)


async def _read_once_back(read: CartRead, cart_id: str, retry_seconds: float) -> StoredCart | None:
    """The cart, read as soon as MongoDB answers: the feed reopened, so it is coming back."""
    while True:
        try:
            return await read(cart_id)
        except PyMongoError as exc:
            log.warning("cart %s not read after the feed resumed, retrying: %s", cart_id, exc)
            await asyncio.sleep(retry_seconds)
