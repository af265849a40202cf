"""Catalog changes from every pod, through the change stream of `catalog_changes`.

Each gateway process opens one change stream on the collection (when its first subscriber
arrives) and marks the SKUs of each change on the watches that follow them, as
`cartUpdated` does with carts (commerce/cart/changes.py, whose stream handling this
follows): MongoDB is the only channel between pods. Listeners (the recent catalog this
process keeps) hear of every change, so no pod serves a value a vendor just changed.

When the stream breaks it is reopened from its resume token; once open again every watch
re-reads all it watches, so whatever the break hid, subscribers end on current values.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection

from commerce.change_streams import FollowedStream, inserts_into
from commerce.live.changes import ChangeKind
from commerce.live.watch import LiveWatch

log = logging.getLogger(__name__)
Document = dict[str, Any]
# (kind, location) of a change; a product change has no location
Channel = tuple[ChangeKind, str | None]
Listener = Callable[[ChangeKind, Sequence[str]], None]


class LiveObserver(Protocol):
    """What the runtime counts (its metrics): subscribers held, and those dropped."""

    def live_subscribers_now(self, count: int) -> None: ...

    def live_subscriber_dropped(self) -> None: ...


class CatalogChangeFeed:
    def __init__(
        self,
        changes: AsyncCollection[Document],
        *,
        retry_seconds: float = 1.0,
        open_timeout_seconds: float = 5.0,
        await_seconds: float = 1.0,
        observer: LiveObserver | None = None,
    ) -> None:
        self._observer = observer
        # (channel, sku) -> watches of that SKU; channel -> watches of every SKU there
        self._by_sku: defaultdict[tuple[Channel, str], set[LiveWatch]] = defaultdict(set)
        self._whole: defaultdict[Channel, set[LiveWatch]] = defaultdict(set)
        self._watches: set[LiveWatch] = set()
        self._listeners: list[Listener] = []
        # subscribers dropped for falling behind, since start
        self.dropped = 0
        self._stream = FollowedStream(
            inserts_into(changes, await_seconds),
            name="catalog change stream",
            on_change=self._on_change,
            on_interrupted=lambda: None,
            # changes made while it was down may be lost: every watch re-reads what it follows
            on_resumed=self._mark_all,
            retry_seconds=retry_seconds,
            open_timeout_seconds=open_timeout_seconds,
        )

    @property
    def subscribers(self) -> int:
        return len(self._watches)

    def watched(self) -> list[LiveWatch]:
        """The watches of this process (the polling fallback reads what they follow)."""
        return list(self._watches)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @asynccontextmanager
    async def subscribe(self, watch: LiveWatch) -> AsyncIterator[LiveWatch]:
        """Registers `watch` once the stream is open, so no change made after this
        returns is missed. Raises FeedUnavailable if the stream cannot be opened."""
        await self._stream.wait_open()
        interest = watch.interest
        channel: Channel = (interest.kind, interest.location_id)
        keys = [(channel, sku) for sku in interest.skus] if interest.skus is not None else []
        for key in keys:
            self._by_sku[key].add(watch)
        if interest.skus is None:
            self._whole[channel].add(watch)
        self._watches.add(watch)
        self._counted()
        try:
            yield watch
        finally:
            if watch.fell_behind:
                self.dropped += 1
                if self._observer is not None:
                    self._observer.live_subscriber_dropped()
            self._watches.discard(watch)
            self._counted()
            for key in keys:
                _discard(self._by_sku, key, watch)
            if interest.skus is None:
                _discard(self._whole, channel, watch)

    def _counted(self) -> None:
        if self._observer is not None:
            self._observer.live_subscribers_now(len(self._watches))

    async def close(self) -> None:
        await self._stream.close()

    def dispatch(self, kind: ChangeKind, location_id: str | None, skus: Sequence[str]) -> None:
        """Marks the change on every watch that follows one of its SKUs."""
        for listener in self._listeners:
            listener(kind, skus)
        channel: Channel = (kind, location_id)
        touched: set[LiveWatch] = set(self._whole.get(channel, ()))
        by_sku = self._by_sku
        for sku in skus:
            watches = by_sku.get((channel, sku))
            if watches:
                touched |= watches
        for watch in touched:
            watch.mark(skus)

    def _on_change(self, change: Document) -> None:
        doc = change.get("fullDocument") or {}
        try:
            kind = ChangeKind(str(doc.get("kind")))
        except ValueError:
            log.warning("catalog change of unknown kind ignored: %r", doc.get("kind"))
            return
        skus = [sku for sku in doc.get("skus") or () if isinstance(sku, str)]
        location = doc.get("location")
        self.dispatch(kind, location if isinstance(location, str) else None, skus)

    def _mark_all(self) -> None:
        for watch in self._watches:
            watch.mark_all()


def _discard(index: dict[Any, set[LiveWatch]], key: Any, watch: LiveWatch) -> None:
    watches = index.get(key)
    if watches is not None:
        watches.discard(watch)
        if not watches:
            del index[key]
