"""Revalidating cached profiles in the background (stale-while-revalidate).

A read that finds a copy past its soft TTL serves it and calls `schedule`. At most one
refresh per customer runs at a time:

- in this process, a task per customer id: while it runs, `schedule` does nothing more, so
  50 concurrent reads of one stale profile start one task;
- across the processes sharing the MongoDB, the task first claims the copy's refresh lease
  (ProfileCache.claim_refresh, an atomic findOneAndUpdate on `refreshing_until`) and does
  nothing if another process holds it.

A process that finds the lease taken does not ask again for `retry_after`, so the reads it
serves meanwhile cost no MongoDB write each. A refresh that fails keeps the lease for
`retry_after` (a back-off, so a CRM that is down is not asked again by every read) and
records the failing service on the copy, so reads serve it as STALE from then on, not as
merely revalidating. A task runs in a context of its own, outside the request that started
it, within its own deadline.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from pymongo.errors import PyMongoError

from commerce.customers.assembly import ProfileAssembler
from commerce.customers.cache import CacheLookups, ProfileCache
from commerce.customers.profile import CustomerProfile
from commerce.tasks import cancel_and_wait
from connectors.errors import UpstreamError
from connectors.resilience import request_deadline

log = logging.getLogger(__name__)

# Past this many customers waiting out another process's lease, the expired entries go.
_PRUNE_AT = 10_000

# Writes a profile read at the given time; False when a newer copy is cached already.
Store = Callable[[CustomerProfile, datetime], Awaitable[bool]]


class ProfileRefresher:
    def __init__(
        self,
        *,
        cache: ProfileCache,
        assembler: ProfileAssembler,
        store: Store,
        lease: timedelta,
        retry_after: timedelta,
        deadline_seconds: float,
        metrics: CacheLookups,
    ) -> None:
        self._cache = cache
        self._assembler = assembler
        self._store = store
        self._lease = lease
        self._retry_after = retry_after
        self._deadline_seconds = deadline_seconds
        self._metrics = metrics
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # customer id -> time.monotonic() until which another process holds its lease
        self._leased_elsewhere: dict[str, float] = {}

    def schedule(self, customer_id: str) -> bool:
        """Start refreshing `customer_id` unless this process is at it already; True if
        started (the lease may still send it home)."""
        if customer_id in self._tasks or self._waiting_out_lease(customer_id):
            return False
        task = asyncio.create_task(
            self._refresh(customer_id),
            name=f"profile-refresh:{customer_id}",
            # not the request's context: its deadline must not cut the refresh short
            context=contextvars.Context(),
        )
        self._tasks[customer_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(customer_id, None))
        return True

    def _waiting_out_lease(self, customer_id: str) -> bool:
        until = self._leased_elsewhere.get(customer_id)
        if until is None:
            return False
        if time.monotonic() < until:
            return True
        del self._leased_elsewhere[customer_id]
        return False

    def _lease_taken(self, customer_id: str) -> None:
        now = time.monotonic()
        if len(self._leased_elsewhere) >= _PRUNE_AT:
            self._leased_elsewhere = {c: t for c, t in self._leased_elsewhere.items() if t > now}
        self._leased_elsewhere[customer_id] = now + self._retry_after.total_seconds()

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        await cancel_and_wait(tasks)

    async def _refresh(self, customer_id: str) -> None:
        try:
            if not await self._cache.claim_refresh(customer_id, self._lease):
                self._lease_taken(customer_id)
                self._metrics.count_cache_lookup("profile_refresh", "leased_elsewhere")
                return
            started = datetime.now(UTC)
            try:
                with request_deadline(self._deadline_seconds):
                    profile = await self._assembler.assemble(customer_id)
            except UpstreamError as exc:
                log.warning("profile refresh of %s failed: %s", customer_id, exc)
                self._metrics.count_cache_lookup("profile_refresh", "failed")
                await self._cache.record_refresh_failure(
                    customer_id, service=exc.service, code=exc.code, retry_after=self._retry_after
                )
                return
            if profile is None:  # the CRM no longer knows them: no copy to serve either
                await self._cache.delete(customer_id)
            else:
                await self._store(profile, started)
            self._metrics.count_cache_lookup("profile_refresh", "refreshed")
        except PyMongoError as exc:
            log.warning("profile refresh of %s: MongoDB failed: %s", customer_id, exc)
        except Exception:
            # a background task has nobody to raise to: log it, and the next read retries
            log.exception("profile refresh of %s failed unexpectedly", customer_id)
