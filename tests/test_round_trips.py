"""How many MongoDB commands and upstream calls a cart write and a checkout make, counted
from the spans of one traced request (each MongoDB command and each upstream call is a
client span): a count that grows is a cost every shopper pays on every add. Why each one is
needed is in docs/cart.md "Round trips"."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from cart_api import CARD_OK, CART_CREATE, CHECKOUT, online_skus
from conftest import bearer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway.app import create_app
from gateway.settings import Settings
from gateway.telemetry import Tracing

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

        async def run(document: str, span: int, **variables: object) -> dict[str, object]:
            exporter.clear()
            response = await client.post(
                "/graphql",
                json={"query": document, "variables": variables},
                headers=traced(headers, span),
            )
            body = response.json()
            assert "errors" not in body, body
            return body["data"]

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

    # the cart read (who may write it, its lines for the stock check), then the write
    cart_write = Counter({"find": 1, "findAndModify": 1})
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
    assert sum(checkout[0].values()) == 24, checkout[0]
    assert sum(checkout[1].values()) == 15, checkout[1]
    assert checkout[1]["square.payments.create"] == checkout[1]["square.payments.complete"] == 1


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
