"""Events out: an abandoned cart (once per idle period, whatever device touched it), an
order placed and points changed, delivered from the outbox to a webhook receiver on
loopback with an HMAC signature, retried with backoff while the receiver fails."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from cart_api import (
    APPLY_CODE,
    CART_CREATE,
    CHECKOUT,
    LINES_ADD,
    Device,
    known_everywhere,
    online_skus,
)
from offers_api import database_read
from pymongo.errors import AutoReconnect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commerce.offers.outbox import SIGNATURE_HEADER, signature, verify_signature
from gateway.local_mongod import free_port
from gateway.outbox_dispatcher import Dispatcher, DispatchSettings
from gateway.serving import CoServer, server_config

SECRET = "test-webhook-secret"


@dataclass
class Receiver:
    url: str
    failures_left: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0

    async def wait_for(self, kind: str, count: int = 1, seconds: float = 10.0) -> list[Any]:
        for _ in range(int(seconds / 0.05)):
            found = [e for e in self.events if e["type"] == kind]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"fewer than {count} {kind} events: {self.events}")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    state = Receiver(f"http://127.0.0.1:{port}/hooks")

    async def hook(request: Request) -> Response:
        body = await request.body()
        if state.failures_left > 0:
            state.failures_left -= 1
            state.refused += 1
            return Response(status_code=503)
        assert verify_signature(SECRET, request.headers[SIGNATURE_HEADER], body)
        state.events.append(json.loads(body))
        return Response(status_code=204)

    server = CoServer(
        server_config(
            Starlette(routes=[Route("/hooks", hook, methods=["POST"])]), "127.0.0.1", port
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield state
    server.should_exit = True
    await task


@pytest.fixture
async def hooked(settings, make_gateway, receiver):
    offers = {
        **settings.offers.model_dump(),
        "webhook_urls": [receiver.url],
        "webhook_secret": SECRET,
        "webhook_backoff_seconds": 0.05,
        "dispatch_interval_seconds": 0.05,
        "cart_abandoned_after_seconds": 1,
    }
    async with make_gateway(settings.with_changes(offers=offers)) as client:
        yield client


async def test_an_abandoned_cart_is_one_signed_event_with_a_personal_offer(
    hooked, receiver, tokens, dataset, settings
):
    receiver.failures_left = 2  # the receiver is down at first: retried with backoff
    contact = known_everywhere(dataset)[50]
    token = tokens.customer(contact)
    web, app = (Device(hooked, {"authorization": f"Bearer {token}"}) for _ in range(2))
    a, b = online_skus(dataset, count=2)
    cart = (await web.run(CART_CREATE, lines=[{"sku": a}]))["cartCreate"]["cart"]
    await app.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": b}])  # a second device
    await asyncio.sleep(0.4)  # dispatcher rounds, but the cart is not idle for 1 s yet
    assert await database_read(settings, "outbox", {"type": "CART_ABANDONED"}) == []
    [event] = await receiver.wait_for("CART_ABANDONED")
    assert receiver.refused == 2
    data = event["data"]
    assert data["customerId"] == contact
    assert {line["sku"] for line in data["lines"]} == {a, b}
    await asyncio.sleep(1.5)  # more rounds: still one event for this idle cart
    assert len([e for e in receiver.events if e["type"] == "CART_ABANDONED"]) == 1
    # the offer in the event is the customer's own, time-limited code
    applied = await app.run(APPLY_CODE, cartId=cart["id"], code=data["offer"]["code"])
    assert applied["cartApplyPromoCode"]["userErrors"] == []
    assert applied["cartApplyPromoCode"]["cart"]["cost"]["discount"]["amount"] != "0.00"
    assert data["offer"]["endsAt"] is not None


async def test_an_order_and_its_points_are_events(hooked, receiver, tokens, dataset):
    contact = known_everywhere(dataset)[51]
    shopper = Device(hooked, {"authorization": f"Bearer {tokens.customer(contact)}"})
    cart = await shopper.run(CART_CREATE, lines=[{"sku": online_skus(dataset)[0]}])
    cart_id = cart["cartCreate"]["cart"]["id"]
    for _ in range(2):
        placed = await shopper.run(CHECKOUT, cartId=cart_id, channel="WEB", key="events-1")
    [order] = await receiver.wait_for("ORDER_PLACED")
    assert order["data"]["orderId"] == placed["checkout"]["order"]["id"]
    assert order["data"]["customerId"] == contact
    me = (await shopper.run("{ me { loyalty { balance } } }"))["me"]
    assert me["loyalty"] is not None  # a loyalty member: the order earns points
    [points] = await receiver.wait_for("POINTS_CHANGED")
    assert points["data"]["customerId"] == contact
    assert points["data"]["points"] > 0
    await asyncio.sleep(0.3)
    assert len([e for e in receiver.events if e["type"] == "ORDER_PLACED"]) == 1


async def test_an_event_nobody_accepts_is_retried_with_backoff_then_failed(
    settings, make_gateway, receiver, tokens, dataset
):
    receiver.failures_left = 1000
    offers = {
        **settings.offers.model_dump(),
        "webhook_urls": [receiver.url],
        "webhook_secret": SECRET,
        "webhook_backoff_seconds": 0.1,
        "webhook_max_attempts": 3,
        "dispatch_interval_seconds": 0.05,
    }
    async with make_gateway(settings.with_changes(offers=offers)) as client:
        shopper = Device(
            client, {"authorization": f"Bearer {tokens.customer(known_everywhere(dataset)[52])}"}
        )
        cart = await shopper.run(CART_CREATE, lines=[{"sku": online_skus(dataset)[0]}])
        placed = await shopper.run(
            CHECKOUT, cartId=cart["cartCreate"]["cart"]["id"], channel="WEB", key="undelivered"
        )
        assert placed["checkout"]["userErrors"] == []
        query = {"type": "ORDER_PLACED"}
        for _ in range(200):
            [event] = await database_read(settings, "outbox", query)
            if event["state"] != "PENDING":
                break
            await asyncio.sleep(0.05)
        assert event["state"] == "FAILED"
        assert event["attempts"] == 3
        assert "HTTP 503" in event["last_error"]
        # attempt 2 waited 0.1 s after the first, attempt 3 0.2 s after the second
        assert event["updated_at"] - event["created_at"] >= timedelta(seconds=0.3)
        await asyncio.sleep(0.3)  # no fourth attempt
    order_attempts = receiver.refused
    assert order_attempts >= 3  # (points changed is a second event, refused as well)
    [event] = await database_read(settings, "outbox", query)
    assert event["attempts"] == 3


def test_the_signature_covers_the_timestamp_and_the_body() -> None:
    header = signature(SECRET, 1_700_000_000, b'{"id":"e1"}')
    assert header.startswith("t=1700000000,v1=")
    assert verify_signature(SECRET, header, b'{"id":"e1"}')
    assert not verify_signature(SECRET, header, b'{"id":"e2"}')
    assert not verify_signature("another-secret", header, b'{"id":"e1"}')
    replayed = header.replace("t=1700000000", "t=1700000001")
    assert not verify_signature(SECRET, replayed, b'{"id":"e1"}')
    assert not verify_signature(SECRET, "garbage", b'{"id":"e1"}')


class CancelledIntoAutoReconnect:
    """An outbox whose claim turns a cancellation into AutoReconnect, as pymongo's async
    network layer does when a cancellation lands mid-operation."""

    def __init__(self) -> None:
        self.claiming = asyncio.Event()

    async def claim_due(self, now: datetime, lease: timedelta) -> None:
        self.claiming.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise AutoReconnect("operation cancelled") from None


class NoCarts:
    async def scan(self) -> int:
        return 0


async def test_the_dispatcher_stops_even_when_pymongo_swallows_the_cancellation() -> None:
    outbox = CancelledIntoAutoReconnect()
    async with httpx.AsyncClient() as client:
        dispatcher = Dispatcher(
            outbox,  # type: ignore[arg-type]
            NoCarts(),  # type: ignore[arg-type]
            client,
            DispatchSettings(("http://127.0.0.1:9/",), SECRET, 1.0, 3, 0.1, 0.01),
        )
        dispatcher.start()
        await asyncio.wait_for(outbox.claiming.wait(), timeout=5)
        # every cancel() lands in a claim and is swallowed: without the stop flag the
        # loop would go on for ever (a hung shutdown)
        await asyncio.wait_for(dispatcher.stop(), timeout=5)
