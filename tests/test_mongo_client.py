"""What omnigate states to MongoDB about its writes, rather than leaving it to the server.

A majority write concern and retryable writes are the client's (gateway/mongo.py), and win
over a URI that says otherwise; the commands on the wire carry them. The failover tests
(tests/test_failover.py, `make test-failover`) show what they buy on a three-member set.
"""

from __future__ import annotations

from typing import Any

from pymongo.monitoring import CommandListener, CommandStartedEvent
from pymongo.write_concern import WriteConcern

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
