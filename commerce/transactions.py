"""One MongoDB transaction that does not outlive its request on the server.

PyMongo's `with_transaction` aborts a failed transaction under the caller's
`pymongo.timeout` deadline (a mutation runs under one: engine/deadline.py). The CSOT
specification gives that abort a fresh timeout; PyMongo 4.20 does not, so once the deadline
has passed the abort is never sent, and the server keeps the transaction open, the documents
it wrote locked, until `transactionLifetimeLimitSeconds` (60 s by default) or until its
server session happens to be used again. Every later transaction on those documents (the
same checkout retried with its key) then fails with WriteConflict until its own deadline,
and may leave another such transaction behind: a failover that ends just as a checkout's
deadline does kept that checkout failing for over a minute in tests/test_failover.py.

So after a transaction that failed on a timeout, `in_transaction` kills its session on the
primary (`killSessions` aborts the session's transaction), from a task whose context holds
no deadline, so the kill gets the client's own timeout (`OMNIGATE_MONGODB_TIMEOUT_SECONDS`).
With no primary there is nothing to kill: the transaction died with the primary, or was
aborted when it stepped down. tests/test_mongo_client.py shows the library's behaviour and
fails when it changes, so this can go then.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)
T = TypeVar("T")


async def in_transaction(
    client: AsyncMongoClient[dict[str, Any]],
    work: Callable[[AsyncClientSession], Awaitable[T]],
) -> T:
    """`work` in one transaction, retried by the driver as `with_transaction` does."""
    async with client.start_session() as session:
        try:
            return await session.with_transaction(work)
        except PyMongoError as exc:
            if exc.timeout and client.topology_description.has_writable_server():
                await _kill_on_server(client, session.session_id)
            raise


async def _kill_on_server(
    client: AsyncMongoClient[dict[str, Any]], session_id: Mapping[str, Any]
) -> None:
    async def kill() -> None:
        try:
            await client.admin.command("killSessions", [session_id])
        except PyMongoError as exc:
            log.warning("a timed-out transaction was not aborted on the server: %s", exc)

    # an empty context: no pymongo.timeout deadline (the one that just expired) applies
    await asyncio.create_task(kill(), context=contextvars.Context())
