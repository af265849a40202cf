"""The MongoDB client: one per app, built in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pymongo import AsyncMongoClient, ReadPreference
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
    """A client that fails fast: an operation waits `timeout_seconds` for a server, not 30 s
    (a mutation waits longer: engine/deadline.py). `event_listeners`: command monitoring for
    this client only (trace spans).

    What makes a write durable is stated here, not left to the server's default (which is
    w:1 on a set with an arbiter): acknowledged once a majority of the set holds it, so an
    answered write survives the loss of the primary; and retryable writes and reads, which
    the driver resends once to the new primary under the same transaction number, so the
    server applies a write at most once however often it is resent. These keywords win
    over the same options in the URI; the app name is the URI's `appName` if it has one
    (a pod named in the server's logs and `$currentOp`), else "omnigate"."""
    timeout_ms = int(timeout_seconds * 1000)
    return AsyncMongoClient(
        uri,
        event_listeners=event_listeners,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        timeoutMS=timeout_ms,
        w="majority",
        retryWrites=True,
        retryReads=True,
        tz_aware=True,
        appname=_app_name(uri),
    )


def _app_name(uri: str) -> str:
    options = parse_qs(urlsplit(uri).query)
    named = [value for key, value in options.items() if key.lower() == "appname"]
    return named[0][-1] if named else "omnigate"


async def ensure_indexes(database: AsyncDatabase[Document]) -> None:
    """Idempotent; run at start-up. An unreachable MongoDB is logged, not fatal: reads that
    need it fall back or fail per field, and /readyz says so."""
    try:
        await ProfileCache(database).ensure_indexes()
        await WebhookDeliveries(database).ensure_indexes()
    except PyMongoError as exc:
        log.warning("could not ensure MongoDB indexes: %s", exc)


async def mongo_reachable(client: AsyncMongoClient[Document]) -> bool:
    """Any member of the set answers. Not "a primary answers": during an election every pod
    would turn unready at once and the Service would refuse every request, where the pods
    would have waited for the new primary (a mutation does, engine/deadline.py)."""
    try:
        await client.admin.command("ping", read_preference=ReadPreference.NEAREST)
    except PyMongoError:
        return False
    return True
