"""How many MongoDB commands and upstream calls a cart write and a checkout make, counted
from the spans of one traced request (each MongoDB command and each upstream call is a
client span): a count that grows is a cost every shopper pays on every add. Why each one is
needed is in docs/cart.md "Round trips"."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from cart_api import (
    CARD_OK,
    CART,
    CART_CREATE,
    CHECKOUT,
    SET_FULFILLMENT,
    online_skus,
    stock_at,
    stocked_skus,
)
from conftest import bearer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from gateway.app import create_app
from gateway.settings import Settings
from gateway.telemetry import Tracing
from sandbox.dataset import WAREHOUSE_LOCATION_ID

CALLER_TRACE = "5b8aa5a2d2c872e8321cf37308d69df2"
# what bench/cart_load.py sends: the write and its new version, as a device does
ADD = """mutation ($cartId: ID!, $sku: ID!) {
  cartLinesAdd(cartId: $cartId, lines: [{sku: $sku, quantity: 1}]) {
    cart { version } userErrors { code }
  }
}"""


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@asynccontextmanager
async def traced_gateway(
    settings: Settings, exporter: InMemorySpanExporter
) -> AsyncIterator[httpx.AsyncClient]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings, tracing=Tracing(provider, owned=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


def traced(headers: dict[str, str], span: int) -> dict[str, str]:
    return {**headers, "traceparent": f"00-{CALLER_TRACE}-{span:016x}-01"}


def round_trips(spans: tuple[ReadableSpan, ...]) -> tuple[Counter[str], Counter[str]]:
    """(MongoDB commands by collection and command, upstream calls by service) of the
    caller's trace; background work has traces of its own."""
    mine = [s for s in spans if format(s.context.trace_id, "032x") == CALLER_TRACE]
    mongo = Counter(
        s.name.rpartition(".")[2]  # the command; the database is the test's own
        for s in mine
        if s.attributes.get("db.system") == "mongodb"
    )
    upstream = Counter(
        s.name.removeprefix("POST ").removeprefix("GET ")
        for s in mine
        if s.kind is SpanKind.CLIENT and "peer.service" in s.attributes
    )
    return mongo, upstream


async def test_an_add_and_a_checkout_make_the_round_trips_docs_cart_md_explains(
    settings, tokens, dataset, exporter
):
    first, second = online_skus(dataset, count=2)
    headers = bearer(tokens.customer(dataset.crm_contacts[5].id))
    async with traced_gateway(settings, exporter) as client:
        run = runner(client, exporter, headers)
        created = await run(CART_CREATE, 1, lines=[{"sku": first, "quantity": 1}])
        cart_id = created["cartCreate"]["cart"]["id"]

        await run(ADD, 2, cartId=cart_id, sku=second)  # a SKU new to the cart
        new_line = round_trips(exporter.get_finished_spans())
        await run(ADD, 3, cartId=cart_id, sku=second)  # and one more of it
        add = round_trips(exporter.get_finished_spans())

        await run(
            CHECKOUT, 4, cartId=cart_id, channel="WEB", key="round-trips-1", paymentToken=CARD_OK
        )
        checkout = round_trips(exporter.get_finished_spans())

    # a cart this pod saw its customer reach (here: cartCreate): the write alone, its
    # filter holding every check (commerce/cart/guard.py)
    cart_write = Counter({"findAndModify": 1})
    price_and_stock = Counter(
        {"shopify.products_by_sku": 1, "square.inventory.batch_retrieve_counts": 1}
    )
    # a SKU first seen by this gateway: its Square variation id, cached after
    assert new_line == (cart_write, price_and_stock + Counter({"square.catalog.search": 1}))
    assert add == (cart_write, price_and_stock)
    # placing an order: the checkout record's steps, the cart's freeze and release, the
    # profile for the order's customer, the loyalty and promotion ledgers, the outbox, the
    # stock change for live subscribers (docs/live.md); paying for it: three payment steps
    # recorded (requested, authorised, captured) and the attempt settled, Square's
    # CreatePayment and CompletePayment (docs/payments.md)
    assert sum(checkout[0].values()) == 22, checkout[0]
    assert sum(checkout[1].values()) == 15, checkout[1]
    assert checkout[1]["square.payments.create"] == checkout[1]["square.payments.complete"] == 1


Run = Callable[..., Awaitable[dict[str, Any]]]


def runner(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter, headers: dict[str, str]
) -> Run:
    """Sends a document as one traced request (the spans cleared before it): its data."""

    async def run(document: str, span: int, **variables: object) -> dict[str, Any]:
        exporter.clear()
        response = await client.post(
            "/graphql",
            json={"query": document, "variables": variables},
            headers=traced(headers, span),
        )
        body = response.json()
        assert "errors" not in body, body
        return dict(body["data"])

    return run


async def test_a_cart_new_to_a_pod_is_read_before_it_is_written(
    settings, tokens, dataset, exporter
):
    """Reaching a cart is proved by reading it once per pod: an id the caller cannot reach
    costs no price or stock read, and another pod's first add reads before it writes."""
    first, second = online_skus(dataset, count=2)
    owner = bearer(tokens.customer(dataset.crm_contacts[6].id))
    stranger = bearer(tokens.customer(dataset.crm_contacts[7].id))
    async with traced_gateway(settings, exporter) as pod_a:
        created = await runner(pod_a, exporter, owner)(CART_CREATE, 1, lines=[{"sku": first}])
        cart_id = created["cartCreate"]["cart"]["id"]
    async with traced_gateway(settings, exporter) as pod_b:
        refused = await runner(pod_b, exporter, stranger)(ADD, 2, cartId=cart_id, sku=second)
        assert refused["cartLinesAdd"]["userErrors"] == [{"code": "NOT_FOUND"}]
        assert round_trips(exporter.get_finished_spans()) == (Counter({"find": 1}), Counter())

        run = runner(pod_b, exporter, owner)
        await run(ADD, 3, cartId=cart_id, sku=second)
        assert round_trips(exporter.get_finished_spans())[0] == Counter(
            {"find": 1, "findAndModify": 1}
        )
        added = await run(ADD, 4, cartId=cart_id, sku=second)
        assert round_trips(exporter.get_finished_spans())[0] == Counter({"findAndModify": 1})
        assert added["cartLinesAdd"] == {"cart": {"version": 4}, "userErrors": []}


ADD_MANY = """mutation ($cartId: ID!, $sku: ID!, $quantity: Int!) {
  cartLinesAdd(cartId: $cartId, lines: [{sku: $sku, quantity: $quantity}]) {
    cart { version lines { sku quantity availableQuantity } fulfillment { type } }
    userErrors { code message }
  }
}"""


async def test_an_unread_add_past_the_stock_the_cart_holds_is_refused_by_its_filter(
    settings, tokens, dataset, exporter
):
    """The units the cart already holds count against the shelf on the server: the write
    matches nothing, then the read names the refusal, and the cart is as it was."""
    sku = next(
        p.sku
        for p in dataset.products
        if 3 <= stock_at(dataset, p.sku, WAREHOUSE_LOCATION_ID) <= 20
    )
    headers = bearer(tokens.customer(dataset.crm_contacts[8].id))
    async with traced_gateway(settings, exporter) as client:
        run = runner(client, exporter, headers)
        cart_id = (await run(CART_CREATE, 1))["cartCreate"]["cart"]["id"]
        first = (await run(ADD_MANY, 2, cartId=cart_id, sku=sku, quantity=1))["cartLinesAdd"]
        shelf = first["cart"]["lines"][0]["availableQuantity"]
        # the shelf, less the unit held: fits, written unread
        filled = (await run(ADD_MANY, 3, cartId=cart_id, sku=sku, quantity=shelf - 1))[
            "cartLinesAdd"
        ]
        assert filled["userErrors"] == []
        assert round_trips(exporter.get_finished_spans())[0] == Counter({"findAndModify": 1})
        # one more unit fits the shelf alone, not beside the cart's own
        refused = (await run(ADD_MANY, 4, cartId=cart_id, sku=sku, quantity=1))["cartLinesAdd"]
        assert [e["code"] for e in refused["userErrors"]] == ["OUT_OF_STOCK"]
        assert f"Only {shelf} of {sku}" in refused["userErrors"][0]["message"]
        assert refused["cart"]["version"] == filled["cart"]["version"]
        assert refused["cart"]["lines"][0]["quantity"] == shelf
        assert round_trips(exporter.get_finished_spans())[0] == Counter(
            {"findAndModify": 1, "find": 1}
        )


async def test_an_unread_add_to_a_cart_changed_on_another_pod_takes_the_checks_it_needs(
    settings, tokens, dataset, exporter
):
    """A pod that knows the cart does not know what another pod did to it: made it a
    pickup cart (its adds are held at the store, in a transaction), or checked it out."""
    store = dataset.stores[0]
    sku = stocked_skus(dataset, store.id, at_least=5, count=1)[0]
    headers = bearer(tokens.customer(dataset.crm_contacts[9].id))
    async with (
        traced_gateway(settings, exporter) as pod_a,
        traced_gateway(settings, exporter) as pod_b,
    ):
        on_a, on_b = runner(pod_a, exporter, headers), runner(pod_b, exporter, headers)
        cart_id = (await on_a(CART_CREATE, 1, lines=[{"sku": sku}]))["cartCreate"]["cart"]["id"]
        picked = await on_b(SET_FULFILLMENT, 2, cartId=cart_id, type="PICKUP", storeId=store.id)
        assert picked["cartSetFulfillment"]["userErrors"] == []

        added = (await on_a(ADD_MANY, 3, cartId=cart_id, sku=sku, quantity=1))["cartLinesAdd"]
        assert added["userErrors"] == []
        assert added["cart"]["fulfillment"] == {"type": "PICKUP"}
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongodb_uri.get_secret_value()
        )
        try:
            held = await client[settings.mongodb_database]["stock_holds"].find_one(
                {"store_id": store.id, "sku": sku}
            )
        finally:
            await client.close()
        assert held is not None
        assert [(h["cart_id"], h["quantity"]) for h in held["holds"]] == [(cart_id, 2)]

        back = await on_b(SET_FULFILLMENT, 4, cartId=cart_id, type="DELIVERY")
        assert back["cartSetFulfillment"]["userErrors"] == []
        placed = await on_b(
            CHECKOUT, 5, cartId=cart_id, channel="WEB", key="unread-1", paymentToken=CARD_OK
        )
        assert placed["checkout"]["userErrors"] == []
        closed = (await on_a(ADD_MANY, 6, cartId=cart_id, sku=sku, quantity=1))["cartLinesAdd"]
        assert [e["code"] for e in closed["userErrors"]] == ["CART_NOT_OPEN"]


PRODUCT_PAGE = """{
  products(first: 20) {
    edges { node { sku availability { stores(first: 5) { store { id } quantity } } } }
  }
}"""


async def test_product_pages_read_other_carts_holds_once_per_pod_and_interval(
    settings, dataset, exporter
):
    """The holds a page's stock is net of are one MongoDB read; the pages after it, within
    `cart.shown_holds_seconds`, reuse it (docs/cart.md "Click and collect: holds")."""
    settings = settings.model_copy(
        update={"cart": settings.cart.model_copy(update={"shown_holds_seconds": 60.0})}
    )
    async with traced_gateway(settings, exporter) as client:

        async def page(span: int) -> Counter[str]:
            exporter.clear()
            response = await client.post(
                "/graphql", json={"query": PRODUCT_PAGE}, headers=traced({}, span)
            )
            assert "errors" not in response.json()
            return round_trips(exporter.get_finished_spans())[0]

        assert await page(1) == Counter({"find": 1})
        assert await page(2) == Counter()


GUEST_CREATE = "mutation { cartCreate { cartToken cart { id } } }"
ADOPT = "mutation { cartMergeGuest { cart { id version } userErrors { code } } }"


async def test_a_guest_cart_adopted_at_login_is_out_of_the_guest_token_s_reach(
    settings, tokens, dataset, exporter
):
    """The write's filter holds the reach, not just this pod's memory of it: once a
    customer adopts the guest cart, the token that reached it a moment ago reaches
    nothing, and the unread write leaves the cart as it was."""
    first, second = online_skus(dataset, count=2)
    async with traced_gateway(settings, exporter) as client:
        created = await runner(client, exporter, {})(GUEST_CREATE, 1)
        token = created["cartCreate"]["cartToken"]
        cart_id = created["cartCreate"]["cart"]["id"]
        guest = runner(client, exporter, {"x-cart-token": token})
        await guest(ADD, 2, cartId=cart_id, sku=first)  # read first: new to the pod
        await guest(ADD, 3, cartId=cart_id, sku=first)
        assert round_trips(exporter.get_finished_spans())[0] == Counter({"findAndModify": 1})

        customer = bearer(tokens.customer(dataset.crm_contacts[10].id))
        login = runner(client, exporter, {**customer, "x-cart-token": token})
        adopted = (await login(ADOPT, 4))["cartMergeGuest"]
        assert adopted["userErrors"] == []
        assert adopted["cart"]["id"] == cart_id

        refused = await guest(ADD, 5, cartId=cart_id, sku=second)
        assert refused["cartLinesAdd"] == {"cart": None, "userErrors": [{"code": "NOT_FOUND"}]}
        assert round_trips(exporter.get_finished_spans())[0] == Counter(
            {"findAndModify": 1, "find": 1}
        )
        mine = await runner(client, exporter, customer)(
            "query { cart { id version lines { sku quantity } } }", 6
        )
        assert mine["cart"] == {
            "id": cart_id,
            "version": adopted["cart"]["version"],
            "lines": [{"sku": first, "quantity": 2}],
        }


async def test_a_write_concern_error_during_a_step_down_costs_one_resend_and_no_error(
    settings, tokens, dataset, exporter, mongod
):
    """A primary stepping down answers a write it applied with a write-concern error
    labelled RetryableWriteError. The driver resends it under the same transaction number,
    the server answers from its record without applying it again, and the shopper sees one
    add. The server is made to answer so by its failCommand fail point, for this gateway's
    client only (its app name)."""
    app_name = f"omnigate-wce-{uuid.uuid4().hex[:8]}"
    uri = f"{settings.mongodb_uri.get_secret_value()}&appName={app_name}"
    named = settings.model_copy(update={"mongodb_uri": SecretStr(uri)})
    first, second = online_skus(dataset, count=2)
    headers = bearer(tokens.customer(dataset.crm_contacts[9].id))
    admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongod.uri)
    async with traced_gateway(named, exporter) as client:
        run = runner(client, exporter, headers)
        created = await run(CART_CREATE, 1, lines=[{"sku": first, "quantity": 1}])
        cart_id, version = (created["cartCreate"]["cart"][key] for key in ("id", "version"))
        await admin.admin.command(
            {
                "configureFailPoint": "failCommand",
                "mode": {"times": 1},
                "data": {
                    "failCommands": ["findAndModify"],
                    "appName": app_name,
                    "writeConcernError": {
                        "code": 189,  # PrimarySteppedDown
                        "codeName": "PrimarySteppedDown",
                        "errmsg": "primary stepped down while waiting for replication",
                    },
                    "errorLabels": ["RetryableWriteError"],
                },
            }
        )
        try:
            added = await run(ADD, 2, cartId=cart_id, sku=second)
        finally:
            await admin.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
            await admin.close()
        sent = round_trips(exporter.get_finished_spans())[0]
        cart = await run(CART, 3, id=cart_id)

    assert added["cartLinesAdd"] == {"cart": {"version": version + 1}, "userErrors": []}
    assert sent == Counter({"findAndModify": 2})  # the write, and its one resend
    assert [(line["sku"], line["quantity"]) for line in cart["cart"]["lines"]] == [
        (first, 1),
        (second, 1),
    ]
