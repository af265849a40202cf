"""The customer search budget: how many `customers(search:)` one staff member may make,
kept by the same MongoDB token buckets as the request rate limit (rate_limit.py), under a
key of its own per store and staff id.

Always on, whatever `rate_limits.enabled` says: the request limit sheds load, this one
bounds how fast one staff token can walk the customer base. When MongoDB does not answer
the search is let through, as a request is; its audit entry cannot be written then either,
so it fails there (commerce/customers/search.py).
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from commerce.principal import Principal
from gateway.limits.rate_limit import RateLimiter
from gateway.metrics import Metrics
from gateway.settings import RateLimit

log = logging.getLogger(__name__)


class CustomerSearchBudget:
    def __init__(
        self, database: AsyncDatabase[dict[str, Any]], limit: RateLimit, metrics: Metrics
    ) -> None:
        # the buckets only: no principal's request limit is read through this one
        self._buckets = RateLimiter(database, {}, trusted_proxies=(), metrics=metrics)
        self._limit = limit
        self._metrics = metrics

    async def ensure_indexes(self) -> None:
        await self._buckets.ensure_indexes()

    async def spend(self, principal: Principal) -> float | None:
        key = f"customer-search:{principal.store_id}:{principal.subject}"
        try:
            verdict = await self._buckets.take(key, self._limit)
        except PyMongoError as exc:
            log.warning("customer search budget not checked (MongoDB): %s", exc)
            return None
        if verdict.allowed:
            return None
        self._metrics.rate_limited.labels("CUSTOMER_SEARCH").inc()
        return verdict.retry_after_seconds
