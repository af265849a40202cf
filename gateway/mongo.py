"""The MongoDB client: one per app, built in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from pymongo.monitoring import CommandListener

from commerce.customers.cache import ProfileCache
from gateway.webhooks.deliveries import WebhookDeliveries

log = logging.getLogger(__name__)

Document = dict[str, Any]


def connect_mongo(
    uri: str, timeout_seconds: float, *, event_listeners: Sequence[CommandListener] = ()
) -> AsyncMongoClient[Document]:
    """A client that fails fast: a read waits `timeout_seconds` for a server, not 30 s.
    `event_listeners`: command monitoring for this client only (trace spans)."""
    timeout_ms = int(timeout_seconds * 1000)
    return AsyncMongoClient(
        uri,
        event_listeners=event_listeners,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        timeoutMS=timeout_ms,
        tz_aware=True,
        appname="omnigate",
    )


async def ensure_indexes(database: AsyncDatabase[Document]) -> None:
    """Idempotent; run at start-up. An unreachable MongoDB is logged, not fatal: reads that
    need it fall back or fail per field, and /readyz says so."""
    try:
        await ProfileCache(database).ensure_indexes()
        await WebhookDeliveries(database).ensure_indexes()
    except PyMongoError as exc:
        log.warning("could not ensure MongoDB indexes: %s", exc)


async def mongo_reachable(client: AsyncMongoClient[Document]) -> bool:
    try:
        await client.admin.command("ping")
    except PyMongoError:
        return False
    return True
