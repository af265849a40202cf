"""Placing store orders: the Square adapter against the simulator's CreateOrder, no mocks.

Holds the simulator to Square's CreateOrder contract (idempotent replay, a reused key
refused, validation that does not use a key up, catalog price override, discount and
totals) and the adapter to it, down to the order showing up in the customer's history.
Each test gets its own app: created orders must not leak into other tests' datasets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectors.errors import IdempotencyKeyReused
from connectors.http import UpstreamHttp
from connectors.records import (
    Channel,
    ExternalRef,
    Money,
    OrderDraft,
    OrderLineDraft,
    OrderQuery,
    System,
)
from connectors.square import SquarePos, SquareSettings
from sandbox.dataset import Dataset, Product, build_dataset
from sandbox.square import create_app

URL = "http://square.sandbox"
AUTH = {"Authorization": "Bearer sandbox-square-token"}
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # after every dataset order


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture
def app(dataset: Dataset) -> Starlette:
    return create_app(dataset, public_url=URL, wall_clock=lambda: NOW)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as c:
        yield c


@pytest.fixture
def pos(client: httpx.AsyncClient) -> SquarePos:
    return SquarePos(UpstreamHttp(client, service="square", base_url=URL), SquareSettings())


def usd(amount: Decimal | str) -> Money:
    return Money(Decimal(amount), "USD")


def stale(dataset: Dataset) -> Product:
    """A product whose Square catalog price lags the Shopify price."""
    return next(p for p in dataset.products if p.pos_price != p.price)


def draft_for(dataset: Dataset, key: str = "checkout-1", **changes: Any) -> OrderDraft:
    customer = dataset.pos_customers[0]
    product, other = stale(dataset), dataset.products[0]
    draft = OrderDraft(
        idempotency_key=key,
        customer_refs=(ExternalRef(System.SQUARE, customer.id),),
        lines=(
            OrderLineDraft(product.sku, 2, usd(product.price)),
            OrderLineDraft(other.sku, 1, usd(other.price)),
        ),
        currency="USD",
        location_id=dataset.stores[0].id,
        pickup=True,
        discount=usd("5.00"),
        note="Gift wrap",
    )
    return dataclasses.replace(draft, **changes)


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(path, json=body, headers=AUTH)


def placed_count(app: Starlette) -> int:
    return len(app.state.square.orders) - len(app.state.square.dataset.pos_orders)


def ad_hoc(cents: int, name: str = "Gift card") -> dict[str, Any]:
    return {
        "name": name,
        "quantity": "1",
        "base_price_money": {"amount": cents, "currency": "USD"},
    }


# --- the adapter end to end -----------------------------------------------------------------


async def test_one_key_placed_twice_is_one_order_and_it_tops_the_customers_history(
    app, pos, client, dataset
):
    draft = draft_for(dataset)

    first = await pos.place_order(draft)
    again = await pos.place_order(draft)

    assert again == first
    assert placed_count(app) == 1
    assert app.state.calls["POST /v2/orders"] == 2
    assert first.channel is Channel.STORE
    assert first.created_at == NOW
    assert first.customer_ref == draft.customer_refs[0]
    assert first.location_id == dataset.stores[0].id
    subtotal = sum((line.unit_price.amount * line.quantity for line in draft.lines), Decimal(0))
    assert first.total == usd(subtotal - Decimal("5.00"))

    history = await pos.orders(OrderQuery(customer_ids=(draft.customer_refs[0].id,), limit=50))
    assert history[0] == first
    assert [o.ref.id for o in history].count(first.ref.id) == 1

    retrieved = await post(client, "/v2/orders/batch-retrieve", {"order_ids": [first.ref.id]})
    (order,) = retrieved.json()["orders"]
    assert order["fulfillments"][0]["type"] == "PICKUP"
    assert order["fulfillments"][0]["pickup_details"]["note"] == "Gift wrap"
    assert order["total_discount_money"] == {"amount": 500, "currency": "USD"}


async def test_the_shopify_price_overrides_the_stale_catalog_price(pos, client, dataset):
    product = stale(dataset)
    record = await pos.place_order(draft_for(dataset, discount=None))
    assert record.lines[0].sku == product.sku
    assert record.lines[0].unit_price == usd(product.price)

    # Without a price, Square charges what its catalog says.
    body = {
        "idempotency_key": "catalog-price",
        "order": {
            "location_id": dataset.stores[0].id,
            "line_items": [{"catalog_object_id": product.square_variation_id, "quantity": "1"}],
        },
    }
    line = (await post(client, "/v2/orders", body)).json()["order"]["line_items"][0]
    assert line["base_price_money"]["amount"] == int(product.pos_price * 100)
    assert line["name"] == product.title


async def test_a_sku_square_does_not_know_is_an_ad_hoc_line_keeping_its_sku(pos, dataset):
    lines = (OrderLineDraft("WEB-ONLY-1", 3, usd("4.25")),)
    record = await pos.place_order(draft_for(dataset, lines=lines, discount=None))
    (line,) = record.lines
    assert (line.sku, line.name, line.quantity) == ("WEB-ONLY-1", "WEB-ONLY-1", 3)
    assert line.total == usd("12.75")


async def test_the_key_of_another_draft_is_refused_and_creates_nothing(app, pos, dataset):
    await pos.place_order(draft_for(dataset))
    with pytest.raises(IdempotencyKeyReused) as caught:
        await pos.place_order(draft_for(dataset, discount=usd("6.00")))
    assert "IDEMPOTENCY_KEY_REUSED" in caught.value.detail
    assert placed_count(app) == 1


async def test_a_guest_order_is_in_its_locations_search_and_no_ones_history(pos, client, dataset):
    store = dataset.stores[1]
    record = await pos.place_order(
        draft_for(dataset, customer_refs=(), location_id=store.id, pickup=False)
    )
    assert record.customer_ref is None
    body = {"location_ids": [store.id], "query": {"filter": {"state_filter": {"states": ["OPEN"]}}}}
    found = (await post(client, "/v2/orders/search", body)).json()["orders"]
    assert [o["id"] for o in found] == [record.ref.id]
    assert "customer_id" not in found[0]


# --- the simulator's contract ----------------------------------------------------------------


def create_body(dataset: Dataset, key: str | None = "raw-1", **order: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order": {"location_id": dataset.stores[0].id, "line_items": [ad_hoc(1000)], **order}
    }
    if key is not None:
        body["idempotency_key"] = key
    return body


async def test_same_key_same_body_replays_and_another_body_is_square_400(app, client, dataset):
    first = await post(client, "/v2/orders", create_body(dataset))
    replay = await post(client, "/v2/orders", create_body(dataset))
    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json() == first.json()

    reused = await post(client, "/v2/orders", create_body(dataset, line_items=[ad_hoc(999)]))
    assert reused.status_code == 400
    (error,) = reused.json()["errors"]
    assert (error["category"], error["code"], error["field"]) == (
        "INVALID_REQUEST_ERROR",
        "IDEMPOTENCY_KEY_REUSED",
        "idempotency_key",
    )
    assert placed_count(app) == 1


async def test_without_a_key_every_request_is_a_new_order(app, client, dataset):
    first = await post(client, "/v2/orders", create_body(dataset, key=None))
    second = await post(client, "/v2/orders", create_body(dataset, key=None))
    assert first.json()["order"]["id"] != second.json()["order"]["id"]
    assert placed_count(app) == 2


async def test_a_refused_request_does_not_use_its_key_up(app, client, dataset):
    refused = await post(client, "/v2/orders", create_body(dataset, location_id=None))
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == "MISSING_REQUIRED_PARAMETER"
    accepted = await post(client, "/v2/orders", create_body(dataset))
    assert accepted.status_code == 200
    assert placed_count(app) == 1


async def test_an_order_discount_is_spread_over_the_lines_to_the_cent(client, dataset):
    discount = {
        "uid": "promo",
        "name": "Promo",
        "type": "FIXED_AMOUNT",
        "amount_money": {"amount": 101, "currency": "USD"},
        "scope": "ORDER",
    }
    body = create_body(dataset, line_items=[ad_hoc(1000), ad_hoc(3000)], discounts=[discount])
    order = (await post(client, "/v2/orders", body)).json()["order"]

    lines = order["line_items"]
    assert [line["total_discount_money"]["amount"] for line in lines] == [26, 75]
    assert [line["total_money"]["amount"] for line in lines] == [974, 2925]
    assert order["discounts"][0]["applied_money"]["amount"] == 101
    assert order["total_money"]["amount"] == 3899
    assert order["net_amounts"]["discount_money"]["amount"] == 101
    assert order["created_at"] == "2026-11-02T09:30:00.000Z"
    assert (order["state"], order["version"]) == ("OPEN", 1)


async def test_a_discount_larger_than_the_order_is_capped_at_it(client, dataset):
    discount = {"type": "FIXED_AMOUNT", "amount_money": {"amount": 5000, "currency": "USD"}}
    order = (await post(client, "/v2/orders", create_body(dataset, discounts=[discount]))).json()[
        "order"
    ]
    assert order["discounts"][0]["applied_money"]["amount"] == 1000
    assert order["total_money"]["amount"] == 0


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"idempotency_key": "k" * 193}, "VALUE_TOO_LONG", "idempotency_key"),
        ({"line_items": [ad_hoc(100)]}, "UNKNOWN_BODY_PARAMETER", "line_items"),
        ({"order": None}, "MISSING_REQUIRED_PARAMETER", "order"),
        ({"order": {"location_id": None}}, "MISSING_REQUIRED_PARAMETER", "order.location_id"),
        ({"order": {"location_id": "LNOWHERE"}}, "INVALID_VALUE", "order.location_id"),
        ({"order": {"state": "COMPLETED"}}, "INVALID_VALUE", "order.state"),
        ({"order": {"reference_id": "r" * 41}}, "VALUE_TOO_LONG", "order.reference_id"),
        (
            {"order": {"line_items": [{"catalog_object_id": "NOPE", "quantity": "1"}]}},
            "INVALID_VALUE",
            "order.line_items[0].catalog_object_id",
        ),
        (
            {"order": {"line_items": [{"name": "Free", "quantity": "1"}]}},
            "MISSING_REQUIRED_PARAMETER",
            "order.line_items[0].base_price_money",
        ),
        (
            {"order": {"line_items": [{**ad_hoc(100), "quantity": "1.5"}]}},
            "INVALID_VALUE",
            "order.line_items[0].quantity",
        ),
        (
            {"order": {"line_items": [{**ad_hoc(100), "quantity": 1}]}},
            "EXPECTED_STRING",
            "order.line_items[0].quantity",
        ),
        (
            {
                "order": {
                    "line_items": [
                        {**ad_hoc(100), "base_price_money": {"amount": 100, "currency": "EUR"}}
                    ]
                }
            },
            "INVALID_VALUE",
            "order.line_items[0].base_price_money.currency",
        ),
        (
            {"order": {"fulfillments": [{"type": "PICKUP", "pickup_details": {}}]}},
            "MISSING_REQUIRED_PARAMETER",
            "order.fulfillments[0].pickup_details.pickup_at",
        ),
        (
            {"order": {"taxes": [{"name": "VAT", "percentage": "20"}]}},
            "NOT_IMPLEMENTED",
            None,
        ),
    ],
)
async def test_simulator_refuses_what_square_refuses(client, dataset, change, code, field):
    body = create_body(dataset)
    for name, value in change.items():
        if name == "order" and isinstance(value, dict):  # merged in; None removes a field
            merged = {**body["order"], **value}
            body["order"] = {key: val for key, val in merged.items() if val is not None}
        else:
            body[name] = value
    response = await post(client, "/v2/orders", body)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["code"] == code
    assert error.get("field") == field
