"""Rate limiting per principal, shared by every pod through MongoDB.

One token bucket per principal in the `rate_limits` collection: a customer or a developer
by subject, a kiosk device or a staff member by store and subject, anyone else by client
address (see client_address.py). A bucket holds at most `requests` tokens and refills at
`requests` per `window_seconds`; each request takes one, and a request that finds less than
one token is refused with 429 RATE_LIMITED and a Retry-After saying when one will be there.

Taking a token is one atomic `findOneAndUpdate` with an aggregation pipeline: refill by the
time elapsed since the bucket's last update, then take a token if there is one. The clock is
the server's `$$NOW`, so pods with skewed clocks still agree. An idle bucket is full after
one window, so a TTL index removes it then without changing any answer.

When MongoDB does not answer, requests are let through (and logged): rate limiting sheds
abuse, it should not turn a database blip into an outage on its own.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError
from starlette.requests import HTTPConnection

from commerce.principal import Principal, PrincipalKind
from gateway.limits.client_address import Network, client_address
from gateway.limits.http_refusal import Refusal
from gateway.metrics import Metrics
from gateway.settings import RateLimit

log = logging.getLogger(__name__)

Document = dict[str, Any]
COLLECTION = "rate_limits"
RATE_LIMITED = "RATE_LIMITED"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: float = 0.0


class RateLimiter:
    def __init__(
        self,
        database: AsyncDatabase[Document],
        limits: Mapping[PrincipalKind, RateLimit],
        *,
        trusted_proxies: Sequence[Network],
        metrics: Metrics,
    ) -> None:
        self._collection: AsyncCollection[Document] = database[COLLECTION]
        self._limits = dict(limits)
        self._trusted = tuple(trusted_proxies)
        self._metrics = metrics

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("expires_at", expireAfterSeconds=0)

    async def admit(self, principal: Principal, connection: HTTPConnection) -> None:
        """Raises Refusal (429) when the principal's budget is spent."""
        limit = self._limits[principal.kind]
        key = self.key(principal, connection)
        try:
            verdict = await self.take(key, limit)
        except PyMongoError as exc:
            log.warning("rate limit not checked (MongoDB): %s", exc)
            return
        if verdict.allowed:
            return
        self._metrics.rate_limited.labels(principal.kind.value).inc()
        retry_after = max(1, math.ceil(verdict.retry_after_seconds))
        raise Refusal(
            429,
            RATE_LIMITED,
            f"Too many requests: at most {limit.requests} per {limit.window_seconds:g} s. "
            f"Retry in {retry_after} s.",
            {"Retry-After": str(retry_after)},
        )

    def key(self, principal: Principal, connection: HTTPConnection) -> str:
        if principal.kind is PrincipalKind.CUSTOMER:
            return f"customer:{principal.subject}"
        if principal.kind is PrincipalKind.DEVELOPER:
            return f"developer:{principal.subject}"
        if principal.kind in (PrincipalKind.KIOSK, PrincipalKind.DISPLAY, PrincipalKind.STAFF):
            # device and staff ids are the store's own: kiosk-1 may exist in every store
            return f"{principal.kind.value.lower()}:{principal.store_id}:{principal.subject}"
        peer = connection.client.host if connection.client else None
        forwarded = connection.headers.getlist("x-forwarded-for")
        return f"ip:{client_address(peer, forwarded, self._trusted)}"

    async def take(self, key: str, limit: RateLimit) -> Verdict:
        """Take one token from the bucket `key`. Raises PyMongoError."""
        capacity = limit.requests
        window_ms = limit.window_seconds * 1000
        per_ms = capacity / window_ms
        pipeline = _take_token(capacity, per_ms, window_ms)
        try:
            bucket = await self._update(key, pipeline)
        except DuplicateKeyError:
            # two first requests raced to create the bucket; the loser finds it there now
            bucket = await self._update(key, pipeline)
        if bucket["allowed"]:
            return Verdict(True)
        return Verdict(False, (1 - float(bucket["tokens"])) / per_ms / 1000)

    async def _update(self, key: str, pipeline: list[Document]) -> Document:
        bucket = await self._collection.find_one_and_update(
            {"_id": key},
            pipeline,
            projection={"tokens": 1, "allowed": 1},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert bucket is not None  # upsert with ReturnDocument.AFTER always returns one
        return bucket


def _take_token(capacity: int, per_ms: float, window_ms: float) -> list[Document]:
    # never negative, should the primary's clock step back after a failover
    elapsed_ms = {"$max": [0, {"$subtract": ["$$NOW", {"$ifNull": ["$at", "$$NOW"]}]}]}
    refilled = {
        "$min": [
            capacity,
            {"$add": [{"$ifNull": ["$tokens", capacity]}, {"$multiply": [per_ms, elapsed_ms]}]},
        ]
    }
    return [
        {"$set": {"tokens": refilled, "at": "$$NOW"}},
        {"$set": {"allowed": {"$gte": ["$tokens", 1]}}},
        {
            "$set": {
                "tokens": {"$cond": ["$allowed", {"$subtract": ["$tokens", 1]}, "$tokens"]},
                # empty to full takes one window: an idle bucket may go then
                "expires_at": {"$add": ["$$NOW", window_ms]},
            }
        },
    ]
