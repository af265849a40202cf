"""What a request passes before its operation runs, once its principal is known: the rate
limit (so a refused request costs one MongoDB update and nothing else), then persisted
queries (APQ and the safelist), which decide the document that runs. A refusal raises
Refusal; the view answers it and runs nothing, so nothing is fetched upstream."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from starlette.requests import HTTPConnection
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from commerce.principal import Principal, PrincipalKind
from gateway.limits.rate_limit import RateLimiter
from gateway.metrics import Metrics
from gateway.persisted.protocol import PersistedOperations
from gateway.persisted.store import PersistedQueryStore
from gateway.settings import SafelistMode, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Admitted:
    data: GraphQLRequestData
    # an APQ registration to store once the operation has validated
    register_as: str | None = None


class Admission:
    def __init__(self, rate_limiter: RateLimiter | None, persisted: PersistedOperations) -> None:
        self.rate_limiter = rate_limiter
        self.persisted = persisted

    async def admit(
        self, connection: HTTPConnection, principal: Principal, data: GraphQLRequestData
    ) -> Admitted:
        """Raises Refusal."""
        if self.rate_limiter is not None:
            await self.rate_limiter.admit(principal, connection)
        resolved = await self.persisted.resolve(data.query, data.extensions, principal)
        if resolved.query is not data.query:
            data = replace(data, query=resolved.query)
        return Admitted(data, resolved.register_as)

    async def settle(self, admitted: Admitted, result: object) -> None:
        """After the operation: store an APQ registration if the document was valid, which
        it was if execution began (data, or an error at a field's path)."""
        if admitted.register_as is None or admitted.data.query is None:
            return
        if isinstance(result, ExecutionResult) and (
            result.data is not None or any(error.path for error in result.errors or ())
        ):
            await self.persisted.register_automatic(admitted.register_as, admitted.data.query)


async def build_admission(
    settings: Settings, database: AsyncDatabase[dict[str, Any]], metrics: Metrics
) -> Admission:
    """From settings, with the collections' TTL indexes ensured (an unreachable MongoDB at
    start-up is logged, not fatal, as gateway.mongo does)."""
    store = PersistedQueryStore(
        database,
        apq_ttl=timedelta(seconds=settings.persisted_queries.apq_ttl_seconds),
        cache_size=settings.persisted_queries.cache_size,
    )
    safelist = settings.persisted_queries
    safelisted = (
        [PrincipalKind(kind) for kind in safelist.safelist_principals]
        if safelist.safelist is SafelistMode.ENFORCE
        else []
    )
    rates = settings.rate_limits
    rate_limiter = (
        RateLimiter(
            database,
            {kind: rates.for_kind(kind.value) for kind in PrincipalKind},
            trusted_proxies=rates.trusted_proxies,
            metrics=metrics,
        )
        if rates.active(settings.env)
        else None
    )
    try:
        await store.ensure_indexes()
        if rate_limiter is not None:
            await rate_limiter.ensure_indexes()
    except PyMongoError as exc:
        log.warning("could not ensure the persisted query and rate limit indexes: %s", exc)
    persisted = PersistedOperations(store, safelisted=safelisted, metrics=metrics)
    return Admission(rate_limiter, persisted)
