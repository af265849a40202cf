"""`cartUpdated` over graphql-transport-ws, across gateway processes sharing one MongoDB.

Process A is the in-test gateway; process B is `omnigate serve` in a subprocess. A device
subscribed on B sees a change made through A: the only path between them is MongoDB's
change stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets
from cart_api import CART_CREATE, CHECKOUT, LINES_ADD, Device, online_skus
from conftest import REPO_ROOT, GatewayClient, sandbox_settings
from live_server import serving

from commerce.cart.changes import CartChangeFeed, CartFeedItem, CartWatch, FeedState
from commerce.cart.model import StoredCart
from gateway.app import create_app
from gateway.local_mongod import LocalMongod, free_port, stop_process
from gateway.mongo import connect_mongo
from gateway.settings import Settings

SUBSCRIBE = """
subscription ($cartId: ID!) {
  cartUpdated(cartId: $cartId) { id version status totalQuantity lines { sku quantity } }
}
"""


def settings_env(settings: Settings, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "OMNIGATE_ENV": "test",
        "OMNIGATE_PORT": str(port),
        "OMNIGATE_MONGODB_URI": settings.mongodb_uri.get_secret_value(),
        "OMNIGATE_MONGODB_DATABASE": settings.mongodb_database,
        "OMNIGATE_SQUARE__BASE_URL": settings.square.base_url,
        "OMNIGATE_SHOPIFY__BASE_URL": settings.shopify.base_url,
        "OMNIGATE_SALESFORCE__LOGIN_URL": settings.salesforce.login_url,
        **auth_env(settings),
    }


def auth_env(settings: Settings) -> dict[str, str]:
    auth = getattr(settings, "auth", None)
    if auth is None:
        return {}
    dumped = auth.model_dump(mode="json")
    return {
        f"OMNIGATE_AUTH__{name.upper()}": value if isinstance(value, str) else json.dumps(value)
        for name, value in dumped.items()
        if value is not None
    }


@contextmanager
def gateway_process(settings: Settings) -> Iterator[str]:
    """A second gateway process on its own port; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env=settings_env(settings, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"gateway B exited: {process.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("gateway B did not become ready")
            time.sleep(0.1)
        yield url
    finally:
        stop_process(process, grace_seconds=10)
        if process.stdout is not None:
            process.stdout.close()


class Subscription:
    def __init__(self, socket: Any) -> None:
        self._socket = socket

    async def next(self) -> dict[str, Any]:
        message = await self._message()
        assert message["type"] == "next", message
        return dict(message["payload"])

    async def completed(self) -> None:
        message = await self._message()
        assert message == {"id": "1", "type": "complete"}, message

    async def _message(self) -> dict[str, Any]:
        while True:
            message = json.loads(await asyncio.wait_for(self._socket.recv(), 10))
            if message["type"] != "ping":
                return dict(message)
            await self._socket.send(json.dumps({"type": "pong"}))


@asynccontextmanager
async def subscribe(
    base_url: str, cart_id: str, payload: dict[str, str]
) -> AsyncIterator[Subscription]:
    ws_url = base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": {"cartId": cart_id}},
                }
            )
        )
        yield Subscription(socket)


@pytest.fixture
def customer_token(tokens, dataset) -> str:
    return str(tokens.customer(dataset.crm_contacts[11].id))


async def test_a_change_through_one_process_reaches_a_device_on_another(
    gateway, settings, dataset, customer_token
):
    phone = Device(gateway, {"authorization": f"Bearer {customer_token}"})
    sku = online_skus(dataset)[0]
    cart = (await phone.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    with gateway_process(settings) as other_process:
        async with subscribe(
            other_process, cart["id"], {"authorization": f"Bearer {customer_token}"}
        ) as kiosk:
            first = await kiosk.next()
            assert first["data"]["cartUpdated"]["version"] == cart["version"]
            await phone.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": sku, "quantity": 2}])
            changed = await kiosk.next()
            assert changed["data"]["cartUpdated"]["version"] == cart["version"] + 1
            assert changed["data"]["cartUpdated"]["lines"] == [{"sku": sku, "quantity": 3}]
            # checking out freezes the cart, then closes it; the stream ends with it
            await phone.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="live-1")
            statuses = [(await kiosk.next())["data"]["cartUpdated"]["status"]]
            if statuses[-1] != "CHECKED_OUT":
                statuses.append((await kiosk.next())["data"]["cartUpdated"]["status"])
            assert statuses[-1] == "CHECKED_OUT"
            await kiosk.completed()


async def test_subscribing_to_another_customers_cart_is_not_found(
    gateway, settings, dataset, customer_token, tokens
):
    owner = Device(gateway, {"authorization": f"Bearer {customer_token}"})
    cart = (await owner.run(CART_CREATE))["cartCreate"]["cart"]
    stranger = tokens.customer(dataset.crm_contacts[12].id)
    with gateway_process(settings) as other_process:
        async with subscribe(
            other_process, cart["id"], {"authorization": f"Bearer {stranger}"}
        ) as subscription:
            refused = await subscription.next()
    assert refused["data"] is None
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["NOT_FOUND"]


@pytest.fixture
def own_mongod(tmp_path) -> Iterator[LocalMongod]:
    """A one-node set of this test's own, to stop and start again."""
    with LocalMongod(tmp_path / "mongod") as server:
        yield server


async def test_a_subscriber_is_told_when_live_updates_stop_and_resume_and_a_write_waits(
    own_mongod, sandbox, dataset
):
    """MongoDB goes away under a subscriber and a writer: the subscriber gets an error
    event (data null, code LIVE_UPDATES_INTERRUPTED) and stays subscribed; the write waits
    for MongoDB instead of failing; once MongoDB is back the subscriber gets the cart as it
    is then, marked LIVE_UPDATES_RESUMED, and ends on the written version."""
    settings = sandbox_settings(own_mongod, sandbox).with_changes(mongodb_timeout_seconds=0.5)
    sku = online_skus(dataset)[0]
    with serving(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            created = (await Device(GatewayClient(http), {}).run(CART_CREATE))["cartCreate"]
            cart_id, token = created["cart"]["id"], created["cartToken"]
            holder = Device(GatewayClient(http), {"x-cart-token": token})
            async with subscribe(url, cart_id, {"cartToken": token}) as kiosk:
                assert (await kiosk.next())["data"]["cartUpdated"]["version"] == 1
                await asyncio.to_thread(own_mongod.stop)
                interrupted = await kiosk.next()
                assert interrupted["data"] is None
                assert [e["extensions"]["code"] for e in interrupted["errors"]] == [
                    "LIVE_UPDATES_INTERRUPTED"
                ]
                assert interrupted["errors"][0]["path"] == ["cartUpdated"]
                write = asyncio.create_task(
                    holder.run(LINES_ADD, cartId=cart_id, lines=[{"sku": sku}])
                )
                await asyncio.to_thread(own_mongod.start)
                written = (await write)["cartLinesAdd"]
                assert written["userErrors"] == []
                assert written["cart"]["version"] == 2
                resumed = await kiosk.next()
                assert "errors" not in resumed
                assert [w["code"] for w in resumed["extensions"]["warnings"]] == [
                    "LIVE_UPDATES_RESUMED"
                ]
                assert resumed["extensions"]["warnings"][0]["path"] == ["cartUpdated"]
                latest = resumed["data"]["cartUpdated"]
                while latest["version"] < 2:
                    latest = (await kiosk.next())["data"]["cartUpdated"]
                assert latest["version"] == 2
                assert latest["lines"] == [{"sku": sku, "quantity": 1}]


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        # a slow subscriber keeps only the newest cart
        ([1, 2, 3], [3]),
        # told of an interruption and of the resumption, in order, the carts between kept
        ([1, "I", "R", 2], [1, "I", "R", 2]),
        # a second interruption before the first was taken: what came between is dropped,
        # the RESUMED after it makes the subscriber read its cart
        ([1, "I", "R", 2, "I", "R", 3], [1, "I", "R", 3]),
        ([1, "I", "R", 2, "I"], [1, "I"]),
    ],
)
async def test_a_subscriber_waiting_for_its_turn_holds_a_few_items_in_order(taken, expected):
    def item(value: Any) -> CartFeedItem:
        if value == "I":
            return FeedState.INTERRUPTED
        if value == "R":
            return FeedState.RESUMED
        return stored_cart(value)

    watch = CartWatch()
    for value in taken:
        watch.put(item(value))
    got = [await watch.get() for _ in expected]
    assert got == [item(value) for value in expected]


def cart_document(version: int) -> dict[str, Any]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "_id": "cart_1",
        "version": version,
        "status": "OPEN",
        "created_at": now,
        "updated_at": now,
    }


def stored_cart(version: int) -> StoredCart:
    return StoredCart.from_document(cart_document(version))


async def test_a_change_stream_that_ends_is_reopened_and_subscribers_read_their_carts(mongod):
    """Dropping the collection ends a change stream for good (it cannot be resumed): the
    feed starts a new one and has its subscribers read their carts afresh."""
    client = connect_mongo(mongod.uri, 2.0)
    carts = client[f"test_{uuid.uuid4().hex[:12]}"]["carts"]
    feed = CartChangeFeed(carts, await_seconds=0.5)
    try:
        async with feed.subscribe("cart_1") as watch:
            await carts.insert_one(cart_document(1))
            await carts.drop()
            taken = [await asyncio.wait_for(watch.get(), 10) for _ in range(3)]
            assert taken == [stored_cart(1), FeedState.INTERRUPTED, FeedState.RESUMED]
            await carts.insert_one(cart_document(2))
            assert await asyncio.wait_for(watch.get(), 10) == stored_cart(2)
    finally:
        await feed.close()
        await client.drop_database(carts.database.name)
        await client.close()
