"""graphql-transport-ws: the principal comes from the `connection_init` payload, holds for
every operation of the connection, and the socket closes when the credentials expire."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosedError

from gateway.app import create_app
from gateway.auth import Credentials
from gateway.local_mongod import free_port
from gateway.serving import CoServer, server_config

ME = "query { me { id } }"


@asynccontextmanager
async def served(settings) -> AsyncIterator[str]:
    """The gateway on a loopback port, in this event loop; yields its websocket URL."""
    port = free_port()
    server = CoServer(server_config(create_app(settings), "127.0.0.1", port))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the gateway did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def ws_url(settings) -> AsyncIterator[str]:
    async with served(settings) as url:
        yield url


@asynccontextmanager
async def connection(url: str, payload: dict[str, Any] | None) -> AsyncIterator[Any]:
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        init: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            init["payload"] = payload
        await socket.send(json.dumps(init))
        yield socket


async def ack(socket) -> None:
    message = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert message["type"] == "connection_ack", message


async def run(socket, document: str, operation_id: str = "1") -> dict[str, Any]:
    """A query over the socket: its one result, once the server completed it."""
    await socket.send(
        json.dumps({"id": operation_id, "type": "subscribe", "payload": {"query": document}})
    )
    message = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert (message["type"], message["id"]) == ("next", operation_id), message
    complete = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert complete == {"id": operation_id, "type": "complete"}
    return dict(message["payload"])


async def closed_with(socket) -> tuple[int, str]:
    with pytest.raises(ConnectionClosedError) as closed:
        await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_a_customer_token_in_connection_init_is_the_connections_principal(
    ws_url, tokens, dataset
):
    contact = dataset.crm_contacts[4].id
    async with connection(ws_url, {"authorization": f"Bearer {tokens.customer(contact)}"}) as ws:
        await ack(ws)
        for operation_id in ("1", "2"):  # every operation of the connection
            assert await run(ws, ME, operation_id) == {"data": {"me": {"id": contact}}}


@pytest.mark.parametrize("payload", [None, {}, {"cartToken": "guest-cart"}])
async def test_no_identity_is_anonymous(ws_url, payload):
    async with connection(ws_url, payload) as ws:
        await ack(ws)
        result = await run(ws, ME)
    assert result["data"] == {"me": None}
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "authorization", ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer {expired}"]
)
async def test_bad_credentials_close_the_socket_before_the_ack(
    ws_url, tokens, sandbox, authorization
):
    expired = tokens.sign(tokens.claims("customer", "003X", exp=int(time.time()) - 600))
    sandbox.reset_calls()
    payload = {"authorization": authorization.format(expired=expired)}
    async with connection(ws_url, payload) as ws:
        assert await closed_with(ws) == (4403, "Forbidden")
    assert sum(sandbox.total_calls(v) for v in ("square", "shopify", "salesforce")) == 0


async def test_the_socket_closes_when_the_token_expires(ws_url, tokens, dataset):
    contact = dataset.crm_contacts[4].id
    token = tokens.customer(contact, expires_in=2)
    async with connection(ws_url, {"authorization": f"Bearer {token}"}) as ws:
        await ack(ws)
        assert (await run(ws, ME))["data"] == {"me": {"id": contact}}
        started = time.monotonic()
        assert await closed_with(ws) == (4403, "Credentials expired")
        assert time.monotonic() - started < 4


def test_connection_params_take_precedence_over_handshake_headers():
    credentials = Credentials.from_connection_params(
        {"authorization": "Bearer a", "handoffToken": "h", "cartToken": 42},
        {"authorization": "Bearer b", "x-cart-token": "c"},
    )
    assert credentials == Credentials(authorization="Bearer a", cart_token="c", handoff_token="h")
