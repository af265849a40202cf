"""Recording a refund on an online order: the Shopify adapter against the simulator's
refundCreate, no mocks. Holds the simulator to Shopify's contract (@idempotent answers the
first refund to the same key and refuses it with another input, a refund never exceeds what
is left of its sale, the financial status follows) and the adapter to finding the sale by
the payment's authorization code."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette
from test_shopify_order_placement_sandbox import BASE, NOW, draft_for, usd

from connectors.errors import UpstreamRejected, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.records import OrderPayment
from connectors.shopify import ShopifyEcommerce, ShopifySettings
from sandbox.dataset import Dataset, build_dataset
from sandbox.server import UNTHROTTLED
from sandbox.shopify import create_app


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture
def app(dataset: Dataset) -> Starlette:
    return create_app(dataset, public_url=BASE, plan=UNTHROTTLED, wall_clock=lambda: NOW)


@pytest.fixture
async def shopify(app: Starlette) -> AsyncIterator[ShopifyEcommerce]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        http = UpstreamHttp(c, service="shopify", base_url=BASE)
        yield ShopifyEcommerce(http, ShopifySettings(base_url=BASE))


async def paid_order(shopify, dataset) -> tuple[str, Decimal]:
    unpaid = draft_for(dataset)
    total = sum((line.unit_price.amount * line.quantity for line in unpaid.lines), Decimal(0))
    total -= Decimal("5.00")
    paid = dataclasses.replace(unpaid, payment=OrderPayment("square", "PAY-1", usd(total)))
    record = await shopify.place_order(paid)
    return record.ref.id, total


def transactions(app, order_id: str) -> list[tuple[str, str]]:
    order = app.state.shop.node(order_id)
    return [(t["kind"], t["amountSet"]["shopMoney"]["amount"]) for t in order["transactions"]]


async def test_a_refund_is_recorded_once_per_key(shopify, dataset, app):
    order_id, total = await paid_order(shopify, dataset)
    first = await shopify.record_refund(order_id, "PAY-1", usd("10.00"), "ret-1")
    again = await shopify.record_refund(order_id, "PAY-1", usd("10.00"), "ret-1")
    assert first is not None
    assert again == first
    assert [kind for kind, _ in transactions(app, order_id)] == ["SALE", "REFUND"]
    order = await shopify.order(order_id)
    assert order is not None
    assert order.payment.value == "PARTIALLY_REFUNDED"
    with pytest.raises(UpstreamUnavailable):
        await shopify.record_refund(order_id, "PAY-1", usd("11.00"), "ret-1")
    assert [kind for kind, _ in transactions(app, order_id)] == ["SALE", "REFUND"]
    rest = total - Decimal("10.00")
    await shopify.record_refund(order_id, "PAY-1", usd(rest), "ret-2")
    order = await shopify.order(order_id)
    assert order is not None
    assert order.payment.value == "REFUNDED"


async def test_never_more_than_is_left_of_the_sale(shopify, dataset):
    order_id, total = await paid_order(shopify, dataset)
    with pytest.raises(UpstreamRejected):
        await shopify.record_refund(order_id, "PAY-1", usd(total + 1), "too-much")


async def test_a_payment_the_order_does_not_hold_records_nothing(shopify, dataset, app):
    order_id, _ = await paid_order(shopify, dataset)
    assert await shopify.record_refund(order_id, "ANOTHER-PAYMENT", usd("1.00"), "k") is None
    assert [kind for kind, _ in transactions(app, order_id)] == ["SALE"]
