"""Reading customer profiles through the MongoDB cache, and saying how fresh each one is.

The CRM is the system of record: a customer id is the CRM contact id, and a contact the
CRM does not know is no customer. Assembly and merge rules: profile_assembly.py and
profile_merge.py. What a read does with what the cache holds (docs/customer-profile.md):

| cached copy                            | the read                                        |
|----------------------------------------|-------------------------------------------------|
| within its soft TTL                    | served, FRESH; no upstream call                 |
| past the soft TTL, before the hard TTL | served, REVALIDATING; one background refresh    |
|   ... and its last refresh failed      | served, STALE (with the failing service)        |
| invalidated (webhook, CRM poll)        | read from the upstreams; if they fail, the copy |
|                                        | is served STALE                                 |
| none (or past the hard TTL)            | read from the upstreams and cached; if they     |
|                                        | fail, the error (the field is null)             |
| MongoDB failed                         | read from the upstreams, not cached, and said:  |
|                                        | `cache_available` False                         |

Reads of one customer that miss at the same time share one assembly in this process.
After a MongoDB failure the cache is left alone for `cache_retry` (no read waits on a
dead server meanwhile), then tried again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo.errors import PyMongoError

from commerce.customers.assembly import ProfileAssembler
from commerce.customers.cache import CachedProfile, CacheLookups, ProfileCache
from commerce.customers.profile import (
    CustomerProfile,
    Freshness,
    ProfileRead,
    SourceFailure,
)
from commerce.customers.refresh import ProfileRefresher
from commerce.tasks import cancel_and_wait
from connectors.errors import UpstreamError
from connectors.ports import CrmPort, CustomerDirectory, LoyaltyPort, PosPort

log = logging.getLogger(__name__)

Fetched = tuple[CustomerProfile, datetime] | None


@dataclass(frozen=True, slots=True)
class ProfileCachePolicy:
    """How long a copy is served as it is (soft), kept at all (hard), and the refresh lease."""

    soft_ttl: timedelta
    hard_ttl: timedelta
    refresh_lease: timedelta
    refresh_retry: timedelta
    refresh_deadline_seconds: float
    cache_retry_seconds: float


class CustomerProfiles:
    def __init__(
        self,
        *,
        crm: CrmPort,
        pos: PosPort,
        loyalty: LoyaltyPort,
        ecommerce: CustomerDirectory,
        cache: ProfileCache,
        policy: ProfileCachePolicy,
        metrics: CacheLookups,
    ) -> None:
        self._cache = cache
        self._policy = policy
        self._metrics = metrics
        self._assembler = ProfileAssembler(crm=crm, pos=pos, loyalty=loyalty, ecommerce=ecommerce)
        self.refresher = ProfileRefresher(
            cache=cache,
            assembler=self._assembler,
            store=self._store,
            lease=policy.refresh_lease,
            retry_after=policy.refresh_retry,
            deadline_seconds=policy.refresh_deadline_seconds,
            metrics=metrics,
        )
        self._inflight: dict[str, asyncio.Task[Fetched]] = {}
        self._cache_down_until = 0.0  # time.monotonic()

    async def many(self, customer_ids: Sequence[str]) -> list[ProfileRead | Exception | None]:
        """Profiles in the order asked; None for ids the CRM does not know, the exception
        for those that failed (a DataLoader fails only their keys)."""
        if len(customer_ids) == 1:
            # the usual batch (`me`, `customer(id:)`): read here, not in a task of its own
            try:
                return [await self.one(customer_ids[0])]
            except Exception as error:
                return [error]
        results = await asyncio.gather(
            *(self.one(cid) for cid in customer_ids), return_exceptions=True
        )
        answers: list[ProfileRead | Exception | None] = []
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result  # cancelled: not a per-key failure
            answers.append(result)
        return answers

    async def one(self, customer_id: str) -> ProfileRead | None:
        cached, cache_up = await self._lookup(customer_id)
        if cached is not None and cached.invalidated_at is None:
            return self._serve_copy(cached)
        try:
            fetched = await self._fetch(customer_id, store=cache_up)
        except UpstreamError as exc:
            if cached is None:
                raise
            # an invalidated copy: outdated, but better said so than nothing
            failure = SourceFailure(exc.service, exc.code)
            return _read(cached, Freshness.STALE, failure)
        if fetched is None:
            return None
        profile, fetched_at = fetched
        return ProfileRead(
            profile, from_cache=False, fetched_at=fetched_at, cache_available=cache_up
        )

    async def close(self) -> None:
        """Stop background refreshes and shared reads (app shutdown)."""
        await self.refresher.close()
        tasks = list(self._inflight.values())
        await cancel_and_wait(tasks)

    def _serve_copy(self, cached: CachedProfile) -> ProfileRead:
        if cached.is_fresh(datetime.now(UTC)):
            return _read(cached, Freshness.FRESH)
        self.refresher.schedule(cached.customer_id)
        failure = cached.refresh_failure
        if failure is not None:
            return _read(cached, Freshness.STALE, SourceFailure(failure.service, failure.code))
        return _read(cached, Freshness.REVALIDATING)

    async def _lookup(self, customer_id: str) -> tuple[CachedProfile | None, bool]:
        """The cached copy, and whether the cache could be asked at all."""
        if time.monotonic() < self._cache_down_until:
            self._metrics.count_cache_lookup("profile", "skipped")
            return None, False
        try:
            hit = await self._cache.get(customer_id)
        except PyMongoError as exc:
            self._metrics.count_cache_lookup("profile", "error")
            self._cache_failed("read", exc)
            return None, False
        self._metrics.count_cache_lookup("profile", _lookup_result(hit))
        return hit, True

    async def _fetch(self, customer_id: str, *, store: bool) -> Fetched:
        """One assembly per customer at a time in this process, shared by every reader."""
        task = self._inflight.get(customer_id)
        if task is None:
            task = asyncio.create_task(self._assemble(customer_id, store=store))
            self._inflight[customer_id] = task
            task.add_done_callback(lambda done: self._fetched(customer_id, done))
        # shielded: a reader that gives up (its request ended) leaves it to the others
        return await asyncio.shield(task)

    def _fetched(self, customer_id: str, task: asyncio.Task[Fetched]) -> None:
        self._inflight.pop(customer_id, None)
        if not task.cancelled():
            task.exception()  # retrieved: its readers may all have left

    async def _assemble(self, customer_id: str, *, store: bool) -> Fetched:
        fetched_at = datetime.now(UTC)
        profile = await self._assembler.assemble(customer_id)
        if store:
            if profile is None:
                await self._forget(customer_id)
            else:
                await self._store(profile, fetched_at)
        return None if profile is None else (profile, fetched_at)

    async def _store(self, profile: CustomerProfile, fetched_at: datetime) -> bool:
        try:
            written = await self._cache.put(
                profile.id,
                profile.to_document(),
                fetched_at=fetched_at,
                soft_ttl=self._policy.soft_ttl,
                hard_ttl=self._policy.hard_ttl,
            )
        except PyMongoError as exc:
            self._cache_failed("write", exc)
            return False
        if not written:
            log.info("profile %s changed while it was read: not cached", profile.id)
        return written

    async def _forget(self, customer_id: str) -> None:
        try:
            await self._cache.delete(customer_id)
        except PyMongoError as exc:
            self._cache_failed("delete", exc)

    def _cache_failed(self, operation: str, exc: PyMongoError) -> None:
        log.warning("profile cache %s failed, reading upstreams directly: %s", operation, exc)
        self._cache_down_until = time.monotonic() + self._policy.cache_retry_seconds


def _read(
    cached: CachedProfile, freshness: Freshness, failure: SourceFailure | None = None
) -> ProfileRead:
    return ProfileRead(
        CustomerProfile.from_document(cached.profile),
        from_cache=True,
        fetched_at=cached.fetched_at,
        freshness=freshness,
        failure=failure,
    )


def _lookup_result(hit: CachedProfile | None) -> str:
    if hit is None:
        return "miss"
    if hit.invalidated_at is not None:
        return "invalidated"
    return "hit" if hit.is_fresh(datetime.now(UTC)) else "stale"
