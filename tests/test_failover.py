"""A three-member replica set losing its primary while shoppers write, check out and watch.

Three real mongod on loopback ports (tests/replica_set.py), one gateway served by uvicorn,
and the load of a busy minute: 12 devices adding lines to 6 carts (two devices per cart),
6 checkouts each retried with its key until it answers, 24 subscribers on those carts.
Midway the primary is killed with SIGKILL, or asked to step down, and the test holds:

- no write the gateway acknowledged is lost, and none is applied twice (each cart holds
  exactly the units its acknowledged adds put there);
- one order per checked-out cart, however often the checkout was sent;
- no answer with an HTTP 5xx, and no GraphQL error at all while the set's election timeout
  (5 s) fits in the request deadline (10 s): writes wait for the new primary;
- every subscriber is told its feed broke (LIVE_UPDATES_INTERRUPTED) and when it is live
  again (LIVE_UPDATES_RESUMED), and ends on its cart's last version;
- /readyz stays 200: the pods would not leave the Service during the election.

At MongoDB's default 10 s election timeout the election outlasts the request deadline: the
writes sent in its first second or so answer DATABASE_UNAVAILABLE at the deadline, and
the test holds that nothing else fails. Each scenario prints its figures (recovery time,
errors, writes lost). `make test-failover` runs this group; `make test` leaves it out.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from cart_api import CART_CREATE, stocked_skus
from conftest import Sandbox, sandbox_settings
from live_server import serving
from pymongo import MongoClient
from replica_set import ReplicaSet

from gateway.app import create_app
from sandbox.dataset import WAREHOUSE_LOCATION_ID

pytestmark = pytest.mark.failover

WRITE_CARTS = 6
DEVICES_PER_CART = 2  # 12 writing devices
CHECKOUT_CARTS = 6
SUBSCRIBERS_PER_WRITE_CART = 3  # 18, and one per checkout cart: 24
# when each checkout is first sent, from the moment the primary is lost
CHECKOUT_OFFSETS = (-0.3, 0.5, 1.5, 2.5, 3.5, 5.0)
WARM_UP_SECONDS = 2.0

ADD = """
mutation ($cartId: ID!, $sku: ID!) {
  cartLinesAdd(cartId: $cartId, lines: [{sku: $sku, quantity: 1}]) {
    cart { id version } userErrors { code }
  }
}
"""
CHECKOUT = """
mutation ($cartId: ID!, $key: String!, $paymentToken: String = "cnon:card-nonce-ok") {
  checkout(cartId: $cartId, channel: WEB, idempotencyKey: $key, paymentToken: $paymentToken) {
    replayed order { id } cart { status } userErrors { code }
  }
}
"""
WATCH = "subscription ($cartId: ID!) { cartUpdated(cartId: $cartId) { id version status } }"


@dataclass
class Answer:
    """One request's fate: when it was sent and answered, and how."""

    sent: float
    answered: float
    status: int | None  # None: no HTTP answer at all
    codes: list[str]  # GraphQL error codes, then userErrors codes

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.codes


@dataclass
class Cart:
    id: str
    token: str
    answers: list[Answer] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"x-cart-token": self.token, "accept": "application/graphql-response+json"}


@dataclass
class Subscriber:
    cart: Cart
    events: list[tuple[float, str, Any]] = field(default_factory=list)
    completed: bool = False

    def carts(self) -> list[dict[str, Any]]:
        return [payload for _, kind, payload in self.events if kind == "cart"]

    def last_version(self) -> int | None:
        carts = self.carts()
        return carts[-1]["version"] if carts else None


@dataclass
class Figures:
    scenario: str
    recovery_seconds: float | None = None
    slowest_answer_seconds: float = 0.0
    writes_acknowledged: int = 0
    writes_lost: int = 0
    writes_doubled: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    status_5xx: int = 0
    checkout_sends: int = 0
    orders: int = 0
    interrupted_after_seconds: float | None = None
    resumed_after_seconds: float | None = None
    readyz_not_200: int = 0

    def line(self) -> str:
        return (
            f"failover {self.scenario}: recovery {_s(self.recovery_seconds)} (disruption -> "
            f"first write sent after it acknowledged), slowest answer "
            f"{self.slowest_answer_seconds:.1f} s, "
            f"{self.writes_acknowledged} writes acknowledged, {self.writes_lost} lost, "
            f"{self.writes_doubled} applied twice, errors {dict(self.errors) or 0}, "
            f"5xx {self.status_5xx}, {self.orders} orders from {self.checkout_sends} checkout "
            f"sends, subscribers told INTERRUPTED after {_s(self.interrupted_after_seconds)} "
            f"and RESUMED after {_s(self.resumed_after_seconds)}, /readyz not 200: "
            f"{self.readyz_not_200}"
        )


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


@pytest.fixture(scope="module")
def replica_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicaSet]:
    with ReplicaSet(tmp_path_factory.mktemp("replica-set"), election_timeout_ms=5000) as rs:
        yield rs


@dataclass
class Gateway:
    url: str
    database: str


@pytest.fixture
def failover_gateway(replica_set: ReplicaSet, sandbox: Sandbox) -> Iterator[Gateway]:
    """A gateway following the set through its replica-set URI. One per scenario, so its
    change stream opens on the primary of the moment (a stream opened before a step-down
    goes on reading from the member that stepped down: killing the next primary would not
    interrupt it)."""
    settings = sandbox_settings(replica_set, sandbox)  # type: ignore[arg-type]
    with serving(create_app(settings)) as url:
        yield Gateway(url, settings.mongodb_database)


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    """Prints a scenario's figures past pytest's capture, for the run's log."""

    def write(line: str) -> None:
        with capsys.disabled():
            print(f"\n{line}")

    return write


@pytest.fixture
def skus(dataset: Any) -> list[str]:
    return stocked_skus(dataset, WAREHOUSE_LOCATION_ID, 100, 24)


class Load:
    """The shoppers: writers, checkouts and subscribers against one gateway."""

    def __init__(self, url: str, http: httpx.AsyncClient, skus: list[str]) -> None:
        self.url = url
        self.http = http
        self.skus = skus
        self.write_carts: list[Cart] = []
        self.checkout_carts: list[Cart] = []
        self.subscribers: list[Subscriber] = []
        self.writes_stop = asyncio.Event()
        self.disrupted_at: float | None = None

    async def prepare(self) -> None:
        for i in range(WRITE_CARTS + CHECKOUT_CARTS):
            body = await self._post(CART_CREATE, {"lines": [{"sku": self.skus[i]}]}, {})
            created = body["data"]["cartCreate"]
            cart = Cart(created["cart"]["id"], created["cartToken"])
            (self.write_carts if i < WRITE_CARTS else self.checkout_carts).append(cart)
        for cart in self.write_carts:
            self.subscribers += [Subscriber(cart) for _ in range(SUBSCRIBERS_PER_WRITE_CART)]
        self.subscribers += [Subscriber(cart) for cart in self.checkout_carts]

    async def _post(
        self, document: str, variables: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": document, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def send(self, cart: Cart, document: str, variables: dict[str, Any]) -> Answer:
        sent = time.monotonic()
        try:
            response = await self.http.post(
                "/graphql", json={"query": document, "variables": variables}, headers=cart.headers
            )
        except httpx.HTTPError as exc:
            answer = Answer(sent, time.monotonic(), None, [type(exc).__name__])
        else:
            body = response.json()
            codes = [e.get("extensions", {}).get("code", "?") for e in body.get("errors", [])]
            for payload in (body.get("data") or {}).values():
                codes += [e["code"] for e in (payload or {}).get("userErrors", [])]
            answer = Answer(sent, time.monotonic(), response.status_code, codes)
        cart.answers.append(answer)
        return answer

    async def write(self, cart: Cart, device: int) -> None:
        n = device
        while not self.writes_stop.is_set():
            await self.send(cart, ADD, {"cartId": cart.id, "sku": self.skus[n % len(self.skus)]})
            n += DEVICES_PER_CART
            await asyncio.sleep(0.05)

    async def check_out(self, cart: Cart, offset: float, give_up_after: float) -> None:
        """Sent at `offset` from the disruption, then again with the same key until an order
        is answered (as a client told to retry with its key does)."""
        assert self.disrupted_at is not None
        await asyncio.sleep(max(0.0, self.disrupted_at + offset - time.monotonic()))
        key = f"failover-{uuid.uuid4().hex}"
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            answer = await self.send(cart, CHECKOUT, {"cartId": cart.id, "key": key})
            if answer.ok:
                return
            await asyncio.sleep(0.5)

    async def watch(self, subscriber: Subscriber) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            init = {"type": "connection_init", "payload": {"cartToken": subscriber.cart.token}}
            await socket.send(json.dumps(init))
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            variables = {"cartId": subscriber.cart.id}
            subscribe = {"query": WATCH, "variables": variables}
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
            async for raw in socket:
                message = json.loads(raw)
                if message["type"] == "ping":
                    await socket.send(json.dumps({"type": "pong"}))
                elif message["type"] == "complete":
                    subscriber.completed = True
                    return
                elif message["type"] == "next":
                    subscriber.events.append(_event(message["payload"]))
                else:
                    subscriber.events.append((time.monotonic(), "protocol", message))
                    return


def _event(payload: dict[str, Any]) -> tuple[float, str, Any]:
    now = time.monotonic()
    if payload.get("errors"):
        return now, "error", [e.get("extensions", {}).get("code") for e in payload["errors"]]
    cart = dict(payload["data"]["cartUpdated"])
    warnings = (payload.get("extensions") or {}).get("warnings", [])
    cart["warnings"] = [w["code"] for w in warnings]
    return now, "cart", cart


async def _poll_ready(http: httpx.AsyncClient, stop: asyncio.Event, statuses: list[int]) -> None:
    while not stop.is_set():
        try:
            statuses.append((await http.get("/readyz")).status_code)
        except httpx.HTTPError:
            statuses.append(0)
        await asyncio.sleep(0.5)


async def _until(condition: Callable[[], bool], seconds: float) -> bool:
    """Waits for `condition` (checked every 0.1 s), at most `seconds`; whether it held."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


def _stored_carts(uri: str, database: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The carts as a majority of the set holds them."""
    client: MongoClient[dict[str, Any]]
    with MongoClient(uri, w="majority", readConcernLevel="majority", timeoutMS=30_000) as client:
        found = client[database]["carts"].find({"_id": {"$in": ids}})
        return {doc["_id"]: doc for doc in found}


def _orders_per_cart(sandbox: Sandbox) -> Counter[str]:
    """Orders the Shopify simulator holds, per omnigate cart (the note the adapter writes)."""
    shop = sandbox.apps["shopify"].app.state.shop
    notes = (row.graph.get("note") or "" for row in shop._orders_by_id.values())
    return Counter(note.removeprefix("omnigate cart ") for note in notes if note)


Disruption = Callable[[], Awaitable[None]]


async def run_scenario(
    scenario: str,
    url: str,
    skus: list[str],
    disrupt: Disruption,
    *,
    writes_for: float,
    uri: str,
    database: str,
    sandbox: Sandbox,
) -> tuple[Figures, Load]:
    """Load, then `disrupt` after the warm-up, writes for `writes_for` seconds after it, then
    the settling: every checkout answered and every subscriber on its cart's last version."""
    figures = Figures(scenario)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        load = Load(url, http, skus)
        await load.prepare()
        watchers = [asyncio.create_task(load.watch(s)) for s in load.subscribers]
        assert await _until(lambda: all(s.carts() for s in load.subscribers), 30)
        writers = [
            asyncio.create_task(load.write(cart, device))
            for cart in load.write_carts
            for device in range(DEVICES_PER_CART)
        ]
        ready_stop, ready = asyncio.Event(), list[int]()
        poller = asyncio.create_task(_poll_ready(http, ready_stop, ready))
        await asyncio.sleep(WARM_UP_SECONDS)
        load.disrupted_at = time.monotonic()
        checkouts = [
            asyncio.create_task(load.check_out(cart, offset, give_up_after=90))
            for cart, offset in zip(load.checkout_carts, CHECKOUT_OFFSETS, strict=True)
        ]
        await disrupt()
        await asyncio.sleep(max(0.0, load.disrupted_at + writes_for - time.monotonic()))
        load.writes_stop.set()
        await asyncio.gather(*writers, *checkouts)
        ready_stop.set()
        await poller
        carts = [*load.write_carts, *load.checkout_carts]
        stored = await asyncio.to_thread(_stored_carts, uri, database, [c.id for c in carts])
        settled = await _until(
            lambda: all(s.last_version() == stored[s.cart.id]["version"] for s in load.subscribers),
            30,
        )
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    assert settled, [(s.cart.id, s.last_version(), s.events[-3:]) for s in load.subscribers]
    _count(figures, load, stored, sandbox, ready)
    return figures, load


def _count(
    figures: Figures,
    load: Load,
    stored: dict[str, dict[str, Any]],
    sandbox: Sandbox,
    ready: list[int],
) -> None:
    assert load.disrupted_at is not None
    disrupted_at = load.disrupted_at
    answers = [a for cart in (*load.write_carts, *load.checkout_carts) for a in cart.answers]
    for answer in answers:
        figures.slowest_answer_seconds = max(
            figures.slowest_answer_seconds, answer.answered - answer.sent
        )
        figures.errors.update(answer.codes)
        figures.status_5xx += answer.status is not None and answer.status >= 500
    recovered = [a.answered for a in answers if a.ok and a.sent >= disrupted_at]
    figures.recovery_seconds = min(recovered) - disrupted_at if recovered else None
    for cart in load.write_carts:
        acknowledged = sum(a.ok for a in cart.answers)
        unknown = len(cart.answers) - acknowledged
        # the cart was made with one unit; each add puts one more
        applied = sum(line["quantity"] for line in stored[cart.id]["lines"]) - 1
        figures.writes_acknowledged += acknowledged
        figures.writes_lost += max(0, acknowledged - applied)
        figures.writes_doubled += max(0, applied - acknowledged - unknown)
    figures.checkout_sends = sum(len(cart.answers) for cart in load.checkout_carts)
    orders = _orders_per_cart(sandbox)
    figures.orders = sum(orders[cart.id] for cart in load.checkout_carts)
    interrupted = [_first(s, "error") for s in load.subscribers]
    resumed = [_first(s, "resumed") for s in load.subscribers]
    if any(t is not None for t in interrupted):
        figures.interrupted_after_seconds = max(t for t in interrupted if t) - disrupted_at
    if any(t is not None for t in resumed):
        figures.resumed_after_seconds = max(t for t in resumed if t) - disrupted_at
    figures.readyz_not_200 = sum(status != 200 for status in ready)


def _first(subscriber: Subscriber, kind: str) -> float | None:
    for at, event_kind, payload in subscriber.events:
        if kind == "error" and event_kind == "error":
            return at
        if (
            kind == "resumed"
            and event_kind == "cart"
            and "LIVE_UPDATES_RESUMED" in payload["warnings"]
        ):
            return at
    return None


def assert_subscribers_followed(load: Load, *, told_of_interruption: bool) -> None:
    """Versions never go back; every interruption is followed by a resumed cart; the
    checked-out carts' streams completed after their last state."""
    for subscriber in load.subscribers:
        versions = [cart["version"] for cart in subscriber.carts()]
        assert versions == sorted(versions), subscriber.events
        kinds = []
        for _, kind, payload in subscriber.events:
            if kind == "error":
                assert payload == ["LIVE_UPDATES_INTERRUPTED"], subscriber.events
                kinds.append("interrupted")
            elif kind == "cart":
                kinds.append("resumed" if "LIVE_UPDATES_RESUMED" in payload["warnings"] else "cart")
            else:
                raise AssertionError(subscriber.events)
        # an interruption is answered by a resumed cart before anything else
        for before, after in itertools.pairwise(kinds):
            if before == "interrupted":
                assert after in ("resumed", "interrupted"), kinds
        assert kinds[-1] != "interrupted", kinds
        if told_of_interruption and subscriber.cart in load.write_carts:
            assert "interrupted" in kinds, kinds
            assert "resumed" in kinds, kinds
    for subscriber in load.subscribers:
        if subscriber.cart in load.checkout_carts:
            assert subscriber.carts()[-1]["status"] == "CHECKED_OUT"
            assert subscriber.completed


def assert_nothing_lost_or_doubled(figures: Figures, load: Load) -> None:
    assert figures.writes_lost == 0, figures.line()
    assert figures.writes_doubled == 0, figures.line()
    assert figures.status_5xx == 0, figures.line()
    assert figures.orders == CHECKOUT_CARTS, figures.line()  # one per cart, none twice
    for cart in load.checkout_carts:
        assert cart.answers[-1].ok, cart.answers


async def _scenario(
    name: str,
    replica_set: ReplicaSet,
    gateway: Gateway,
    skus: list[str],
    sandbox: Sandbox,
    disrupt: Disruption,
    writes_for: float,
) -> tuple[Figures, Load]:
    return await run_scenario(
        name,
        gateway.url,
        skus,
        disrupt,
        writes_for=writes_for,
        uri=replica_set.uri,
        database=gateway.database,
        sandbox=sandbox,
    )


class Primary:
    """Disruptions of whichever member is primary, and putting the set back together."""

    def __init__(self, replica_set: ReplicaSet) -> None:
        self.replica_set = replica_set
        self.killed: int | None = None
        self.stepped_down: int | None = None

    async def kill(self) -> None:
        primary = await asyncio.to_thread(self.replica_set.primary)
        assert primary is not None
        self.replica_set.kill(primary)
        self.killed = primary

    async def step_down(self) -> None:
        primary = await asyncio.to_thread(self.replica_set.primary)
        assert primary is not None
        self.stepped_down = primary
        await asyncio.to_thread(self.replica_set.step_down, primary)

    async def restore(self) -> None:
        if self.killed is not None:
            self.replica_set.restart(self.killed)
            self.killed = None
        if self.stepped_down is not None:
            # electable again now, not after the step-down's 30 s: the next scenario's
            # election may need it
            await asyncio.to_thread(self.replica_set.unfreeze, self.stepped_down)
            self.stepped_down = None
        await asyncio.to_thread(self.replica_set.wait_healthy)


async def test_a_killed_primary_costs_no_write_no_order_and_no_error(
    replica_set: ReplicaSet,
    failover_gateway: Gateway,
    skus: list[str],
    sandbox: Sandbox,
    report: Callable[[str], None],
) -> None:
    await asyncio.to_thread(replica_set.set_election_timeout, 5000)
    primary = Primary(replica_set)
    try:
        figures, load = await _scenario(
            "kill -9, 5 s election timeout",
            replica_set, failover_gateway, skus, sandbox, primary.kill, writes_for=12,
        )  # fmt: skip
    finally:
        await primary.restore()
    report(figures.line())
    assert_nothing_lost_or_doubled(figures, load)
    # the writes waited for the new primary: not one answer was an error
    assert figures.errors == Counter(), figures.line()
    assert figures.recovery_seconds is not None
    assert_subscribers_followed(load, told_of_interruption=True)
    assert figures.readyz_not_200 == 0, figures.line()


async def test_a_primary_stepping_down_costs_no_write_no_order_and_no_error(
    replica_set: ReplicaSet,
    failover_gateway: Gateway,
    skus: list[str],
    sandbox: Sandbox,
    report: Callable[[str], None],
) -> None:
    await asyncio.to_thread(replica_set.set_election_timeout, 5000)
    primary = Primary(replica_set)
    try:
        figures, load = await _scenario(
            "step-down, 5 s election timeout",
            replica_set, failover_gateway, skus, sandbox, primary.step_down, writes_for=8,
        )  # fmt: skip
    finally:
        await primary.restore()
    report(figures.line())
    assert_nothing_lost_or_doubled(figures, load)
    assert figures.errors == Counter(), figures.line()
    # a step-down may be too short for the feed to notice; if it did, subscribers were told
    assert_subscribers_followed(load, told_of_interruption=False)
    assert figures.readyz_not_200 == 0, figures.line()


async def test_an_election_longer_than_the_request_deadline_fails_only_the_first_writes(
    replica_set: ReplicaSet,
    failover_gateway: Gateway,
    skus: list[str],
    sandbox: Sandbox,
    report: Callable[[str], None],
) -> None:
    """MongoDB's default 10 s election timeout: the set has no primary for about 11 s, the
    request deadline is 10 s. A write sent in the first second or so waits the whole
    deadline and answers DATABASE_UNAVAILABLE, or UPSTREAM_TIMEOUT when MongoDB answered
    so late that no time was left for the upstream calls after it (its outcome unknown to
    the client: it may have been applied, so it is counted neither lost nor doubled);
    later ones wait less and succeed. Nothing acknowledged is lost, nothing is a 5xx,
    checkouts retried with their key make one order each."""
    await asyncio.to_thread(replica_set.set_election_timeout, 10_000)
    primary = Primary(replica_set)
    try:
        figures, load = await _scenario(
            "kill -9, 10 s election timeout",
            replica_set, failover_gateway, skus, sandbox, primary.kill, writes_for=16,
        )  # fmt: skip
    finally:
        await primary.restore()
        await asyncio.to_thread(replica_set.set_election_timeout, 5000)
    report(figures.line())
    assert_nothing_lost_or_doubled(figures, load)
    # the deadline ran out waiting for MongoDB, or on the upstream calls that came after
    assert set(figures.errors) <= {"DATABASE_UNAVAILABLE", "UPSTREAM_TIMEOUT"}, figures.line()
    deadline = 10.0
    for cart in (*load.write_carts, *load.checkout_carts):
        for answer in cart.answers:
            if not answer.ok:
                # it waited for a primary until the request deadline, not a moment less
                assert answer.answered - answer.sent >= deadline - 0.5, answer
    assert_subscribers_followed(load, told_of_interruption=True)
