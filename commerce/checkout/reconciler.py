"""The checkout reconciler: attempts nobody finished, taken on at start-up and then on a beat.

A crash can stop a checkout between any two of its steps (commerce/checkout/service.py):
after the card was authorised, after the order was placed, after it was recorded. The
client's retry with the same key finishes it; a client that never comes back (the phone
died) leaves it to this. Each gateway process runs it once at start-up and then every
`cart.reconcile_interval_seconds`, over attempts last touched more than
`cart.reconcile_grace_seconds` ago (a live checkout in some pod is left alone), and takes
each on as the retry would (`CheckoutService.reconcile`): the order placed and the money
captured, or the attempt dropped when nothing of it reached anyone; a store order is
polled until Square holds it paid, then earns its points. Every step is idempotent, so two
pods reconciling the same attempt, or a reconciler racing the client's retry, do it once.

Other work a crash can leave half done rides on the same beat (`also`): returns a crash
stopped after the refund or the restock (commerce/returns/service.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pymongo.errors import PyMongoError

from commerce.checkout.service import CheckoutService
from commerce.checkout.store import CheckoutStore
from commerce.tasks import cancel_and_wait
from connectors.errors import UpstreamError

log = logging.getLogger(__name__)
BATCH = 100


class Unfinished(Protocol):
    async def finish_unfinished(self, older_than: datetime, limit: int) -> int:
        """Finish up to `limit` pieces of work untouched since `older_than`; how many."""
        ...


class CheckoutReconciler:
    def __init__(
        self,
        service: CheckoutService,
        checkouts: CheckoutStore,
        *,
        grace: timedelta,
        interval_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        also: Sequence[Unfinished] = (),
    ) -> None:
        self._service = service
        self._also = tuple(also)
        self._checkouts = checkouts
        self._grace = grace
        self._interval = interval_seconds
        self._clock = clock
        # set once the start-up pass is over (readiness, and tests, wait on it)
        self.first_pass_done = asyncio.Event()
        self._stop = asyncio.Event()

    async def run_once(self) -> int:
        """One pass; how many attempts it took on. A failure of one leaves it to the next
        pass (an upstream down, MongoDB electing) and does not stop the others."""
        older_than = self._clock() - self._grace
        found = await self._checkouts.unsettled(older_than, BATCH)
        for record in found:
            try:
                await self._service.reconcile(record)
            except (UpstreamError, PyMongoError) as exc:
                log.warning("checkout %s not reconciled yet: %s", record.id, exc)
        taken = len(found)
        for other in self._also:
            taken += await other.finish_unfinished(older_than, BATCH)
        return taken

    async def run(self) -> None:
        """At start-up, then every interval (0: at start-up only), until `stop`."""
        while not self._stop.is_set():
            try:
                await self.run_once()
            except PyMongoError as exc:
                log.warning("checkout reconciler pass failed: %s", exc)
            self.first_pass_done.set()
            if self._interval <= 0:
                return
            with contextlib.suppress(TimeoutError):  # the interval is over: the next pass
                await asyncio.wait_for(self._stop.wait(), self._interval)

    async def stop(self, task: asyncio.Task[None], grace_seconds: float = 5.0) -> None:
        """Lets a pass under way finish (a cancellation in the middle of a MongoDB
        operation leaks the driver's connection), cancelling it only past the grace."""
        self._stop.set()
        done, _ = await asyncio.wait({task}, timeout=grace_seconds)
        if not done:
            await cancel_and_wait([task])
