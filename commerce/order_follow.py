"""One order followed by its owner or by staff: as it is, then each time it changes.

`orderChanged(id:)` decides who may follow an order exactly as `order(id:)` does
(commerce/order_lookup.py: another customer's order is NOT_FOUND; staff are audited once,
on subscribing), then sends the order again whenever a change is recorded for it
(commerce/order_changes.py) and the order its system returns differs from the last one
sent: a webhook delivered twice, or a change that touched nothing shown, sends nothing.

The watch is registered before the first read, so a change between the read and the first
message is not lost. A re-read the system does not answer is tried again after
`retry_seconds` (the change it follows has already come and will not come again). With
`poll_seconds`, a follower that heard of no change for that long reads its order anyway:
a vendor whose webhooks are not subscribed, or a delivery lost for good, still reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable

from commerce.audit import OrderRead
from commerce.order_changes import OrderChangeFeed, OrderWatch
from commerce.order_lookup import OrderLookup, OwnerRefs
from commerce.principal import Principal
from connectors.errors import UpstreamError
from connectors.records import OrderRecord

log = logging.getLogger(__name__)


class OrderFollower:
    def __init__(
        self,
        lookup: OrderLookup,
        feed: OrderChangeFeed,
        *,
        retry_seconds: float = 5.0,
        poll_seconds: float | None = None,
    ) -> None:
        self._lookup = lookup
        self._feed = feed
        self._retry_seconds = retry_seconds
        self._poll_seconds = poll_seconds

    async def follow(
        self,
        principal: Principal,
        order_id: str,
        *,
        owner_refs: OwnerRefs,
        describe: Callable[[], OrderRead],
    ) -> AsyncGenerator[OrderRecord, None]:
        """The order, then the order again after each change that shows. Raises what
        `OrderLookup.find` raises (before anything is sent), and FeedUnavailable."""
        async with self._feed.follow(order_id) as watch:
            last = await self._lookup.find(
                principal,
                order_id=order_id,
                number=None,
                owner_refs=owner_refs,
                describe=describe,
            )
            yield last
            while True:
                await self._next_look(watch)
                try:
                    now = await self._lookup.read_again(order_id)
                except UpstreamError as exc:
                    log.warning("order %s not read again, retrying: %s", order_id, exc)
                    await asyncio.sleep(self._retry_seconds)
                    watch.mark()
                    continue
                if now is None:
                    return  # its system no longer knows it: nothing more will come
                if now != last:
                    last = now
                    yield now

    async def _next_look(self, watch: OrderWatch) -> None:
        """Once a change is heard of, or the poll interval passes without one."""
        if self._poll_seconds is None:
            await watch.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch.wait(), self._poll_seconds)
