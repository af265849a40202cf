"""What omnigate states to MongoDB about its writes, rather than leaving it to the server.

A majority write concern and retryable writes are the client's (gateway/mongo.py), and win
over a URI that says otherwise; the commands on the wire carry them. The failover tests
(tests/test_failover.py, `make test-failover`) show what they buy on a three-member set.

A transaction cut by a mutation's deadline is aborted on the server (commerce/transactions.py),
which PyMongo's own with_transaction does not do.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pymongo
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError
from pymongo.monitoring import CommandListener, CommandStartedEvent
from pymongo.write_concern import WriteConcern

from commerce.transactions import in_transaction
from gateway.local_mongod import LocalMongod
from gateway.mongo import connect_mongo


class Commands(CommandListener):
    def __init__(self) -> None:
        self.sent: list[CommandStartedEvent] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.sent.append(event)

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


async def test_writes_ask_for_a_majority_and_are_retryable_whatever_the_uri_says(
    mongod: LocalMongod,
) -> None:
    commands = Commands()
    client = connect_mongo(
        f"{mongod.uri}&w=1&retryWrites=false&retryReads=false", 2.0, event_listeners=[commands]
    )
    try:
        assert client.write_concern == WriteConcern(w="majority")
        assert client.options.retry_writes
        assert client.options.retry_reads
        await client["test_write_concern"]["things"].insert_one({"n": 1})
    finally:
        await client.drop_database("test_write_concern")
        await client.close()
    insert = next(e.command for e in commands.sent if e.command_name == "insert")
    assert insert["writeConcern"] == {"w": "majority"}
    # a retryable write carries the transaction number the server deduplicates a resend by
    assert "txnNumber" in insert


async def _cut_by_its_deadline(
    client: AsyncMongoClient[dict[str, Any]],
    things: AsyncCollection[dict[str, Any]],
    run: Callable[[Callable[[AsyncClientSession], Awaitable[None]]], Awaitable[None]],
) -> None:
    """A transaction that writes `x`, then finds its pymongo.timeout deadline passed."""

    async def slow(session: AsyncClientSession) -> None:
        await things.update_one({"_id": "x"}, {"$inc": {"n": 1}}, session=session)
        await asyncio.sleep(0.6)
        await things.update_one({"_id": "y"}, {"$inc": {"n": 1}}, session=session, upsert=True)

    with pytest.raises(PyMongoError) as cut, pymongo.timeout(0.5):
        await run(slow)
    assert cut.value.timeout


async def _write_x_again(
    client: AsyncMongoClient[dict[str, Any]], things: AsyncCollection[dict[str, Any]]
) -> None:
    async def quick(session: AsyncClientSession) -> None:
        await things.update_one({"_id": "x"}, {"$inc": {"n": 1}}, session=session)

    # Another server session than the cut transaction's: the pool would hand that one out
    # next (last in, first out), and its next transaction would abort the old one.
    async with client.start_session() as held:
        assert held.session_id
        with pymongo.timeout(1.0):
            await in_transaction(client, quick)


@pytest.fixture
async def things(mongod: LocalMongod) -> AsyncIterator[AsyncCollection[dict[str, Any]]]:
    client = connect_mongo(mongod.uri, 2.0)
    collection = client[f"test_{uuid.uuid4().hex[:12]}"]["things"]
    await collection.insert_one({"_id": "x", "n": 0})
    yield collection
    await client.drop_database(collection.database.name)
    await client.close()


async def test_pymongo_leaves_a_transaction_cut_by_its_deadline_open_on_the_server(
    things: AsyncCollection[dict[str, Any]],
) -> None:
    """What commerce/transactions.py works around. Should this fail, PyMongo now aborts
    with a fresh timeout, as the CSOT specification asks, and the workaround can go."""
    client = things.database.client
    cut: list[dict[str, Any]] = []

    async def with_transaction(work: Callable[[AsyncClientSession], Awaitable[None]]) -> None:
        async with client.start_session() as session:
            cut.append(session.session_id)
            await session.with_transaction(work)

    await _cut_by_its_deadline(client, things, with_transaction)
    try:
        with pytest.raises(PyMongoError) as conflicted:
            await _write_x_again(client, things)
        assert conflicted.value.timeout  # WriteConflict on x until the deadline
    finally:
        # the open transaction would hold the collection for a minute more
        await client.admin.command("killSessions", cut)


async def test_a_transaction_cut_by_its_deadline_is_aborted_on_the_server(
    things: AsyncCollection[dict[str, Any]],
) -> None:
    client = things.database.client
    await _cut_by_its_deadline(client, things, lambda work: in_transaction(client, work))
    await _write_x_again(client, things)
    assert (await things.find_one({"_id": "x"}))["n"] == 1  # type: ignore[index]
