"""One subscriber's share of the live catalog: which SKUs changed since it last read them.

Coalescing is by SKU, not by message: a burst of changes to the SKUs a subscriber watches
leaves at most each of those SKUs marked once, so what waits for a subscriber is bounded by
what it watches (or by `max_pending` SKUs for a whole store), never by the number of
changes. The subscriber takes the marked SKUs, reads their current values, and sends them.

A subscriber that falls behind (its last message has not left for `max_lag_seconds` while
more changes arrive: the client is not reading) is dropped: `take` raises
SubscriberFellBehind and `on_fell_behind` is called at once, so the transport can close
the connection although the send it is stuck in never returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from commerce.live.changes import ChangeKind

Clock = Callable[[], float]


class SubscriberFellBehind(Exception):
    """The subscriber did not take its updates in time and is dropped."""


@dataclass(frozen=True, slots=True)
class Interest:
    kind: ChangeKind
    # stock only: the store, or None for online
    location_id: str | None
    # None: every SKU (a whole store's stock)
    skus: frozenset[str] | None


class LiveWatch:
    def __init__(
        self,
        interest: Interest,
        *,
        max_lag_seconds: float,
        max_pending: int,
        clock: Clock = time.monotonic,
        on_fell_behind: Callable[[], None] | None = None,
    ) -> None:
        self.interest = interest
        self._max_lag = max_lag_seconds
        self._max_pending = max_pending
        self._clock = clock
        self._on_fell_behind = on_fell_behind
        # the first message holds every watched SKU as it is on subscribing
        self._dirty: set[str] = set(interest.skus or ())
        self._ready = asyncio.Event()
        self._sending_since: float | None = None
        self.fell_behind = False

    def mark(self, skus: Iterable[str]) -> None:
        if self.fell_behind:
            return
        watched = self.interest.skus
        wanted = set(skus) if watched is None else watched.intersection(skus)
        if not wanted:
            return
        self._dirty |= wanted
        sending = self._sending_since
        if len(self._dirty) > self._max_pending or (
            sending is not None and self._clock() - sending > self._max_lag
        ):
            self._fall_behind()
            return
        self._ready.set()

    def mark_all(self) -> None:
        """Every watched SKU, to be read afresh (the change stream was resumed)."""
        if self.interest.skus is not None:
            self.mark(self.interest.skus)

    async def take(self) -> set[str]:
        """The SKUs changed since the last take, once there is one."""
        while not self._dirty and not self.fell_behind:
            self._ready.clear()
            await self._ready.wait()
        if self.fell_behind:
            raise SubscriberFellBehind
        taken, self._dirty = self._dirty, set()
        return taken

    def sending(self) -> None:
        self._sending_since = self._clock()

    def sent(self) -> None:
        self._sending_since = None

    def _fall_behind(self) -> None:
        self.fell_behind = True
        self._dirty.clear()
        self._ready.set()
        if self._on_fell_behind is not None:
            self._on_fell_behind()
