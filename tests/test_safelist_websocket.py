"""Persisted queries and the safelist hold over websockets too: a safelisted principal cannot
run an unregistered operation by opening a socket, and a hash alone runs a stored one."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta

import websockets
from test_auth_websocket import ack, connection, served

from gateway.mongo import connect_mongo
from gateway.persisted import PersistedQueryStore

UPSTREAMS = ("square", "shopify", "salesforce")
PRODUCTS = "query TwoProducts { products(first: 2) { edges { node { sku } } } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def register(settings, query: str) -> None:
    """As `omnigate persisted register` does."""
    mongo = connect_mongo(settings.mongodb_uri.get_secret_value(), 5)
    try:
        store = PersistedQueryStore(
            mongo[settings.mongodb_database], apq_ttl=timedelta(days=1), cache_size=1
        )
        await store.register(query, operation_names=[], source="test")
    finally:
        await mongo.close()


async def reply(socket) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), 10))


async def subscribe(socket, payload: dict, operation_id: str = "1") -> dict:
    await socket.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": payload}))
    return await reply(socket)


async def test_an_unregistered_operation_is_refused_over_graphql_transport_ws(settings, sandbox):
    enforced = settings.with_changes(persisted_queries={"safelist": "enforce"})
    async with served(enforced) as url, connection(url, {}) as socket:
        await ack(socket)
        sandbox.reset_calls()
        refused = await subscribe(socket, {"query": PRODUCTS})
        assert refused["type"] == "error"
        assert [e["extensions"]["code"] for e in refused["payload"]] == ["QUERY_NOT_IN_SAFELIST"]
        by_hash = await subscribe(
            socket,
            {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(PRODUCTS)}}},
            "2",
        )
        assert [e["extensions"]["code"] for e in by_hash["payload"]] == [
            "PERSISTED_QUERY_NOT_IN_LIST"
        ]
        assert sum(sandbox.total_calls(vendor) for vendor in UPSTREAMS) == 0

        # the connection stays usable: a registered operation then runs by its hash alone
        await register(enforced, PRODUCTS)
        result = await subscribe(
            socket,
            {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(PRODUCTS)}}},
            "3",
        )
        assert result["type"] == "next", result
        assert len(result["payload"]["data"]["products"]["edges"]) == 2


async def test_an_unregistered_operation_is_refused_over_legacy_graphql_ws(settings, sandbox):
    enforced = settings.with_changes(persisted_queries={"safelist": "enforce"})
    async with (
        served(enforced) as url,
        websockets.connect(url, subprotocols=["graphql-ws"]) as socket,
    ):
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await reply(socket))["type"] == "connection_ack"
        sandbox.reset_calls()
        await socket.send(json.dumps({"id": "1", "type": "start", "payload": {"query": PRODUCTS}}))
        refused = await reply(socket)
        assert refused["type"] == "error"
        assert refused["payload"]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"
        assert sum(sandbox.total_calls(vendor) for vendor in UPSTREAMS) == 0


async def test_each_operation_over_a_socket_counts_against_the_rate_limit(settings, sandbox):
    limited = settings.with_changes(
        rate_limits={"enabled": True, "anonymous": {"requests": 2, "window_seconds": 60}}
    )
    async with served(limited) as url, connection(url, {}) as socket:
        await ack(socket)
        for operation_id in ("1", "2"):
            assert (await subscribe(socket, {"query": "{ __typename }"}, operation_id))[
                "type"
            ] == "next"
            assert (await reply(socket))["type"] == "complete"
        sandbox.reset_calls()
        refused = await subscribe(socket, {"query": PRODUCTS}, "3")
        assert refused["type"] == "error"
        assert [e["extensions"]["code"] for e in refused["payload"]] == ["RATE_LIMITED"]
        assert sum(sandbox.total_calls(vendor) for vendor in UPSTREAMS) == 0
