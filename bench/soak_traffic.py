"""The soak's mixed traffic: closed loops, each pausing between its requests, that record
every request's latency and any error in bench.soak_windows.Outcomes.

- product: a product page (`product(sku:)` with its price, online stock and five stores),
  SKUs drawn with Zipf-like popularity over the whole catalog, anonymous;
- profile: staff `customer(id:)` reads of the merged profile (each writes its audit row),
  contacts drawn the same way, so the profile cache hits, misses and goes stale;
- cart_write, checkout, subscription: a shopper (a signed-in customer) loops: `cartCreate`
  (its open cart, a fresh one after each checkout), a second device subscribes to
  `cartUpdated` over graphql-transport-ws, a few `cartLinesAdd`, then `checkout` on WEB with
  a new idempotency key. A subscription's latency is the time from sending a write to the
  subscriber holding that version (a later one counts: changes may be coalesced); after the
  checkout the subscription must complete. A socket per cart, so subscriptions come and go.

An error is any non-200 answer, a GraphQL error (by `extensions.code`), a mutation's
userError (by `code`), a field that should not be null and is, a timeout or a broken
connection; each is counted by kind and code.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException
from websockets.typing import Subprotocol

from bench.cart_load import ADD
from bench.profile_load import PROFILE
from bench.soak_windows import Outcomes

PRODUCT_PAGE = """query ProductPage($sku: ID!) { product(sku: $sku) {
  sku name description category images { url } price { amount currency }
  availability { online { quantity inStock } stores(first: 5) { store { id name } quantity } }
} }"""
CART_CREATE = "mutation { cartCreate { cart { id version } userErrors { code } } }"
# paid with the Square Sandbox's test card token, as a payment form would (docs/payments.md)
CHECKOUT = """mutation ($cartId: ID!, $key: String!) {
  checkout(
    cartId: $cartId, channel: WEB, idempotencyKey: $key, paymentToken: "cnon:card-nonce-ok"
  ) {
    order { id } cart { status } userErrors { code }
  }
}"""
SUBSCRIBE = """subscription ($cartId: ID!) {
  cartUpdated(cartId: $cartId) { id version status totalQuantity }
}"""
ADDS_PER_CART = 3
# how long a subscriber may take to see a write, or to complete after a checkout
EVENT_TIMEOUT = 10.0


def zipf_weights(count: int, exponent: float = 1.1) -> list[float]:
    """Cumulative weights 1/rank^s for `count` items, for random.choices."""
    return list(itertools.accumulate(1 / rank**exponent for rank in range(1, count + 1)))


def error_of(response: httpx.Response, field: str) -> str | None:
    """The code of the first thing wrong with an answer, or None."""
    if response.status_code != 200:
        return f"HTTP_{response.status_code}"
    body = response.json()
    if body.get("errors"):
        return str(body["errors"][0].get("extensions", {}).get("code") or "GRAPHQL_ERROR")
    value = (body.get("data") or {}).get(field)
    if value is None:
        return "NULL"
    if isinstance(value, dict) and value.get("userErrors"):
        return str(value["userErrors"][0]["code"])
    return None


class Traffic:
    """What every loop shares: the HTTP client, where outcomes go, and when to stop."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        ws_url: str,
        outcomes: Outcomes,
        *,
        deadline: float,
        pause: float,
    ) -> None:
        self.client = client
        self.ws_url = ws_url
        self.outcomes = outcomes
        self.deadline = deadline
        self.pause_seconds = pause

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    async def pause(self, rng: random.Random) -> None:
        # jittered so that the loops do not fall into step
        await asyncio.sleep(self.pause_seconds * rng.uniform(0.5, 1.5))

    async def call(
        self,
        kind: str,
        field: str,
        document: str,
        variables: dict[str, Any],
        headers: dict[str, str],
    ) -> Any:
        """One GraphQL request: its `field` (data's one root field), or None after an error."""
        started = time.perf_counter()
        try:
            response = await self.client.post(
                "/graphql", json={"query": document, "variables": variables}, headers=headers
            )
        except httpx.TimeoutException:
            self.outcomes.record(kind, time.perf_counter() - started, "TIMEOUT")
            return None
        except httpx.TransportError as error:
            self.outcomes.record(kind, time.perf_counter() - started, type(error).__name__)
            return None
        elapsed = time.perf_counter() - started
        code = error_of(response, field)
        self.outcomes.record(kind, elapsed, code)
        return None if code else response.json()["data"][field]


async def product_reader(traffic: Traffic, skus: list[str], seed: int) -> None:
    rng = random.Random(seed)
    order = skus[:]
    rng.shuffle(order)  # which SKUs are popular
    weights = zipf_weights(len(order))
    while traffic.running():
        (sku,) = rng.choices(order, cum_weights=weights)
        await traffic.call("product", "product", PRODUCT_PAGE, {"sku": sku}, {})
        await traffic.pause(rng)


async def profile_reader(
    traffic: Traffic, staff_token: str, contacts: list[str], seed: int
) -> None:
    rng = random.Random(seed)
    order = contacts[:]
    rng.shuffle(order)
    weights = zipf_weights(len(order))
    headers = {"authorization": f"Bearer {staff_token}"}
    while traffic.running():
        (contact,) = rng.choices(order, cum_weights=weights)
        await traffic.call("profile", "customer", PROFILE, {"id": contact}, headers)
        await traffic.pause(rng)


class CartFeed:
    """A second device's `cartUpdated` subscription: the versions it has seen, and when."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.arrivals: list[tuple[int, float]] = []  # (version, perf_counter)
        self.changed = asyncio.Event()
        self.completed = asyncio.Event()
        self.failure: str | None = None

    async def read(self) -> None:
        try:
            async for raw in self.socket:
                message = json.loads(raw)
                if message["type"] == "ping":
                    await self.socket.send(json.dumps({"type": "pong"}))
                elif message["type"] == "next":
                    payload = message["payload"]
                    if payload.get("errors"):
                        code = payload["errors"][0].get("extensions", {}).get("code")
                        self.failure = str(code or "GRAPHQL_ERROR")
                        break
                    version = payload["data"]["cartUpdated"]["version"]
                    self.arrivals.append((version, time.perf_counter()))
                elif message["type"] == "complete":
                    self.completed.set()
                    break
                else:
                    self.failure = f"WS_{message['type'].upper()}"
                    break
                self.changed.set()
        except WebSocketException as error:
            self.failure = type(error).__name__
        finally:
            self.changed.set()

    async def seen(self, version: int) -> float | None:
        """When the subscriber first held `version` or a newer one; None if it did not
        within EVENT_TIMEOUT or the feed failed."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        while True:
            for seen_version, at in self.arrivals:
                if seen_version >= version:
                    return at
            if self.failure or self.completed.is_set():
                return None
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                return None


@asynccontextmanager
async def cart_feed(ws_url: str, cart_id: str, headers: dict[str, str]) -> AsyncIterator[CartFeed]:
    async with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": headers}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), EVENT_TIMEOUT))
        if ack["type"] != "connection_ack":
            raise WebSocketException(f"no connection_ack: {ack}")
        subscribe = {"query": SUBSCRIBE, "variables": {"cartId": cart_id}}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        feed = CartFeed(socket)
        reader = asyncio.create_task(feed.read())
        try:
            yield feed
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def shopper(traffic: Traffic, token: str, skus: list[str], seed: int, run_id: str) -> None:
    rng = random.Random(seed)
    headers = {"authorization": f"Bearer {token}"}
    for cycle in itertools.count():
        if not traffic.running():
            return
        created = await traffic.call("cart_write", "cartCreate", CART_CREATE, {}, headers)
        if created is None:
            await traffic.pause(rng)
            continue
        cart_id = created["cart"]["id"]
        try:
            async with cart_feed(traffic.ws_url, cart_id, headers) as feed:
                await _fill_and_check_out(traffic, feed, cart_id, headers, skus, rng,
                                          key=f"soak-{run_id}-{seed}-{cycle}")  # fmt: skip
        except (WebSocketException, OSError, TimeoutError) as error:
            traffic.outcomes.error("subscription", type(error).__name__)
        await traffic.pause(rng)


async def _fill_and_check_out(
    traffic: Traffic,
    feed: CartFeed,
    cart_id: str,
    headers: dict[str, str],
    skus: list[str],
    rng: random.Random,
    *,
    key: str,
) -> None:
    for _ in range(ADDS_PER_CART):
        variables = {"cartId": cart_id, "sku": rng.choice(skus)}
        sent = time.perf_counter()
        added = await traffic.call("cart_write", "cartLinesAdd", ADD, variables, headers)
        if added is not None:
            at = await feed.seen(added["cart"]["version"])
            if at is None:
                traffic.outcomes.record(
                    "subscription", time.perf_counter() - sent, feed.failure or "EVENT_TIMEOUT"
                )
                return
            traffic.outcomes.record("subscription", at - sent)
        await traffic.pause(rng)
    variables = {"cartId": cart_id, "key": key}
    placed = await traffic.call("checkout", "checkout", CHECKOUT, variables, headers)
    if placed is None:
        return
    try:
        await asyncio.wait_for(feed.completed.wait(), EVENT_TIMEOUT)
    except TimeoutError:
        traffic.outcomes.error("subscription", feed.failure or "NO_COMPLETE")
