"""Helpers for the live stock and product tests and the fan-out benchmark: a gateway served
in this event loop on a loopback port, a graphql-transport-ws subscriber, and the sandbox's
webhook subscriptions and stock changes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from conftest import sandbox_settings
from starlette.applications import Starlette
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from gateway.app import create_app
from gateway.serving import CoServer, server_config
from gateway.settings import LiveSettings, Settings, WebhookSettings
from sandbox.square.app import SANDBOX_ACCESS_TOKEN

STOCK_CHANGED = """
subscription ($storeId: ID, $skus: [ID!]) {
  stockChanged(storeId: $storeId, skus: $skus) { storeId levels { sku quantity inStock } }
}
"""
PRODUCT_CHANGED = """
subscription ($skus: [ID!]!) {
  productChanged(skus: $skus) { products { sku name price { amount currency } } }
}
"""


@dataclass
class Served:
    app: Starlette
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    @property
    def services(self) -> Any:
        return self.app.state.services


@asynccontextmanager
async def served(settings: Settings, port: int) -> AsyncIterator[Served]:
    """The gateway on `port`, in this event loop, so a test may look at its services."""
    app = create_app(settings)
    server = CoServer(server_config(app, "127.0.0.1", port))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the gateway did not start"
        await asyncio.sleep(0.02)
    try:
        yield Served(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await task


class Subscriber:
    """One graphql-transport-ws connection with one subscription."""

    def __init__(self, socket_: Any) -> None:
        self.socket = socket_

    async def next(self, wait: float = 15) -> dict[str, Any]:
        """The next `next` message's payload (an `error` message fails the test)."""
        message = json.loads(await asyncio.wait_for(self.socket.recv(), wait))
        assert message["type"] == "next", message
        return dict(message["payload"])

    async def first_message(self, wait: float = 15) -> dict[str, Any]:
        return dict(json.loads(await asyncio.wait_for(self.socket.recv(), wait)))


@asynccontextmanager
async def subscribed(
    ws_url: str,
    document: str,
    variables: dict[str, Any],
    payload: dict[str, Any] | None = None,
) -> AsyncIterator[Subscriber]:
    """Subscribed and acknowledged."""
    # no keepalive pings: the gateway under test may share this event loop, busy with a burst
    options: dict[str, Any] = {
        "subprotocols": ["graphql-transport-ws"],
        "max_size": None,
        "ping_interval": None,
    }
    async with websockets.connect(ws_url, **options) as ws:
        init: dict[str, Any] = {"type": "connection_init", "payload": payload or {}}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        request = {"query": document, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": request}))
        yield Subscriber(ws)


class StalledClient:
    """A graphql-transport-ws client that can stop reading altogether: the websocket
    protocol is websockets' sans-I/O one over a plain socket with a small receive buffer,
    and nothing reads the socket between `subscribe` and `read_until_closed`, so the
    server's sends back up as they would to a device that hung."""

    def __init__(self, ws_url: str) -> None:
        self._protocol = ClientProtocol(
            parse_uri(ws_url), subprotocols=[Subprotocol("graphql-transport-ws")], max_size=None
        )
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._host, port = ws_url.split("//", 1)[1].split("/", 1)[0].split(":")
        self._port = int(port)

    async def subscribe(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Connected, acknowledged and subscribed: the first message's payload."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (self._host, self._port))
        self._reader, self._writer = await asyncio.open_connection(sock=sock, limit=1024)
        protocol = self._protocol
        protocol.send_request(protocol.connect())
        self._flush()
        while protocol.state is not State.OPEN:
            assert await self._receive(), "the server refused the websocket"
        assert protocol.handshake_exc is None, protocol.handshake_exc
        await self._send({"type": "connection_init", "payload": {}})
        assert (await self._next_message())["type"] == "connection_ack"
        request = {"query": document, "variables": variables}
        await self._send({"id": "1", "type": "subscribe", "payload": request})
        first = await self._next_message()
        assert first["type"] == "next", first
        return dict(first["payload"])

    async def read_until_closed(self) -> int | None:
        """Reads everything the server sent; the close code it ended with."""
        while self._protocol.close_rcvd is None:
            if not await self._receive():
                break
        close = self._protocol.close_rcvd
        return None if close is None else close.code

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    async def _send(self, message: dict[str, Any]) -> None:
        self._protocol.send_text(json.dumps(message).encode())
        self._flush()

    def _flush(self) -> None:
        assert self._writer is not None
        self._writer.write(b"".join(self._protocol.data_to_send()))

    async def _next_message(self) -> dict[str, Any]:
        while True:
            for event in self._protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    return dict(json.loads(event.data))
            assert await self._receive(), "the server closed the connection"

    async def _receive(self) -> bool:
        assert self._reader is not None
        data = await asyncio.wait_for(self._reader.read(65536), 30)
        if not data:
            self._protocol.receive_eof()
            return False
        self._protocol.receive_data(data)
        self._flush()  # pongs, the closing handshake
        return True


def levels(payload: dict[str, Any]) -> dict[str, int]:
    assert "errors" not in payload, payload
    return {row["sku"]: row["quantity"] for row in payload["data"]["stockChanged"]["levels"]}


@asynccontextmanager
async def square_webhooks(square_url: str, notification_url: str) -> AsyncIterator[str]:
    """A Square webhook subscription for inventory.count.updated (through Square's own
    CreateWebhookSubscription); yields its signature key, deletes it on exit."""
    headers = {"authorization": f"Bearer {SANDBOX_ACCESS_TOKEN}"}
    async with httpx.AsyncClient(base_url=square_url, headers=headers, timeout=10) as client:
        created = await client.post(
            "/v2/webhooks/subscriptions",
            json={
                "idempotency_key": "live-tests",
                "subscription": {
                    "name": "omnigate live stock",
                    "event_types": ["inventory.count.updated"],
                    "notification_url": notification_url,
                },
            },
        )
        assert created.status_code == 200, created.text
        subscription = created.json()["subscription"]
        try:
            yield str(subscription["signature_key"])
        finally:
            await client.delete(f"/v2/webhooks/subscriptions/{subscription['id']}")


@asynccontextmanager
async def shopify_webhooks(shopify_url: str, address: str) -> AsyncIterator[None]:
    async with httpx.AsyncClient(base_url=shopify_url, timeout=10) as client:
        made = await client.post(
            "/_sandbox/shopify/webhooks", json={"topic": "products/update", "address": address}
        )
        assert made.status_code == 200, made.text
        try:
            yield
        finally:
            await client.delete("/_sandbox/shopify/webhooks")


async def set_stock(square_url: str, changes: list[tuple[str, str, int]]) -> list[int]:
    """Counts changed in the Square simulator; the statuses of the webhooks it sent."""
    body = {"changes": [{"sku": s, "location_id": loc, "quantity": q} for s, loc, q in changes]}
    async with httpx.AsyncClient(timeout=120) as client:
        answer = await client.post(f"{square_url}/_sandbox/square/inventory", json=body)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["deliveries"])


def live_settings(
    mongod: Any, sandbox: Any, port: int, key: str | None = None, **overrides: Any
) -> Settings:
    """Settings for a gateway on `port`, Square's webhooks signed with `key`."""
    settings = sandbox_settings(mongod, sandbox)
    webhooks: dict[str, Any] = {
        "square_notification_url": f"http://127.0.0.1:{port}/webhooks/square"
    }
    if key is not None:
        webhooks["square_signature_key"] = key
    return settings.model_copy(
        update={
            "webhooks": WebhookSettings.model_validate(settings.webhooks.model_dump() | webhooks),
            "live": LiveSettings.model_validate(overrides),
        }
    )
