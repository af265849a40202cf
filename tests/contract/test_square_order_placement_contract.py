"""Contract tests of placing a store order through Square's CreateOrder (`POST /v2/orders`).

What the adapter sends (the draft's key as Square's `idempotency_key`, the Shopify price on
every line, the promotion and the pickup), how it reads the created order, and how Square's
refusals become errors. tests/sandbox/test_square_order_placement_sandbox.py runs the same
adapter against the simulator.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from connectors.errors import (
    IdempotencyKeyReused,
    UpstreamError,
    UpstreamRejected,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.http import UpstreamHttp
from connectors.records import (
    Channel,
    ExternalRef,
    Money,
    OrderDraft,
    OrderLine,
    OrderLineDraft,
    System,
)
from connectors.square import SquarePos, SquareSettings

BASE = "https://connect.squareup.test"
SETTINGS = SquareSettings(
    base_url=BASE, access_token="contract-token", online_location_id="LWAREHOUSE"
)
USD = "USD"


def usd(amount: str) -> Money:
    return Money(Decimal(amount), USD)


DRAFT = OrderDraft(
    idempotency_key="checkout-7f3a",
    customer_refs=(
        ExternalRef(System.SHOPIFY, "gid://shopify/Customer/9"),
        ExternalRef(System.SQUARE, "CUST1"),
    ),
    lines=(OrderLineDraft("SKU-1", 2, usd("12.50")), OrderLineDraft("SKU-404", 1, usd("3"))),
    currency=USD,
    location_id="LSTORE1",
    pickup=True,
    discount=usd("2.00"),
    note="Ask for Sam",
)


@pytest.fixture
def square() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post("/v2/catalog/search").respond(
            json={
                "objects": [
                    {"type": "ITEM_VARIATION", "id": "V1", "item_variation_data": {"sku": "SKU-1"}}
                ]
            }
        )
        yield router


@pytest.fixture
async def pos() -> AsyncIterator[SquarePos]:
    async with httpx.AsyncClient() as client:
        yield SquarePos(UpstreamHttp(client, service="square", base_url=BASE), SETTINGS)


def sent(call: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(call.request.content)
    return body


def money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": USD}


def created(order_id: str = "ORDER1") -> dict[str, Any]:
    """A CreateOrder answer for DRAFT, trimmed to the fields the adapter reads."""
    return {
        "order": {
            "id": order_id,
            "location_id": "LSTORE1",
            "customer_id": "CUST1",
            "reference_id": "checkout-7f3a",
            "state": "OPEN",
            "created_at": "2026-11-20T10:00:00.000Z",
            "total_money": money(2600),
            "line_items": [
                {
                    "catalog_object_id": "V1",
                    "name": "Linen Shirt",
                    "quantity": "2",
                    "base_price_money": money(1250),
                    "total_money": money(2334),
                },
                {
                    "name": "SKU-404",
                    "quantity": "1",
                    "metadata": {"sku": "SKU-404"},
                    "base_price_money": money(300),
                    "total_money": money(266),
                },
            ],
        }
    }


def square_error(code: str, category: str = "INVALID_REQUEST_ERROR") -> dict[str, Any]:
    return {"errors": [{"category": category, "code": code, "detail": "secret vendor detail"}]}


async def test_create_order_carries_the_key_shopify_prices_promotion_and_pickup(square, pos):
    create = square.post("/v2/orders").respond(json=created())

    record = await pos.place_order(DRAFT)

    assert sent(create.calls.last) == {
        "idempotency_key": "checkout-7f3a",
        "order": {
            "location_id": "LSTORE1",
            "reference_id": "checkout-7f3a",
            "customer_id": "CUST1",
            "state": "OPEN",
            "line_items": [
                # the catalog line keeps its variation (inventory) and carries our price
                {"quantity": "2", "base_price_money": money(1250), "catalog_object_id": "V1"},
                # a SKU the Square catalog lacks is an ad hoc line that remembers its SKU
                {
                    "quantity": "1",
                    "base_price_money": money(300),
                    "name": "SKU-404",
                    "metadata": {"sku": "SKU-404"},
                },
            ],
            "discounts": [
                {
                    "uid": "omnigate-promotion",
                    "name": "Promotion",
                    "type": "FIXED_AMOUNT",
                    "amount_money": money(200),
                    "scope": "ORDER",
                }
            ],
            "fulfillments": [
                {
                    "type": "PICKUP",
                    "state": "PROPOSED",
                    "pickup_details": {
                        "recipient": {"customer_id": "CUST1"},
                        "schedule_type": "ASAP",
                        "note": "Ask for Sam",
                    },
                }
            ],
        },
    }
    assert record.ref == ExternalRef(System.SQUARE, "ORDER1")
    assert record.channel is Channel.STORE
    assert record.created_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert record.total == usd("26.00")
    assert record.lines == (
        OrderLine("SKU-1", "Linen Shirt", 2, usd("12.50"), usd("23.34")),
        OrderLine("SKU-404", "SKU-404", 1, usd("3.00"), usd("2.66")),
    )
    assert (record.location_id, record.status, record.number) == (
        "LSTORE1",
        "OPEN",
        "checkout-7f3a",
    )
    assert record.customer_ref == ExternalRef(System.SQUARE, "CUST1")


async def test_a_guest_sale_without_location_pickup_or_promotion(square, pos):
    create = square.post("/v2/orders").respond(json=created())
    guest = dataclasses.replace(
        DRAFT, customer_refs=DRAFT.customer_refs[:1], location_id=None, pickup=False, discount=None
    )

    await pos.place_order(guest)

    order = sent(create.calls.last)["order"]
    assert "customer_id" not in order, "a Shopify id means nothing to Square"
    assert order["location_id"] == "LWAREHOUSE", "no location: the online fulfilment location"
    assert "discounts" not in order
    assert "fulfillments" not in order
    assert order["metadata"] == {"note": "Ask for Sam"}, "an Order has no note of its own"


async def test_a_guest_pickup_names_a_recipient(square, pos):
    create = square.post("/v2/orders").respond(json=created())
    await pos.place_order(dataclasses.replace(DRAFT, customer_refs=(), note=None))
    (fulfillment,) = sent(create.calls.last)["order"]["fulfillments"]
    assert fulfillment["pickup_details"] == {
        "recipient": {"display_name": "Guest"},
        "schedule_type": "ASAP",
    }


async def test_a_retry_sends_the_very_same_body_so_square_can_replay_it(square, pos):
    create = square.post("/v2/orders").respond(json=created())
    same_draft_other_spelling = dataclasses.replace(
        DRAFT,
        lines=(OrderLineDraft("SKU-1", 2, usd("12.500")), OrderLineDraft("SKU-404", 1, usd("3.0"))),
    )

    first = await pos.place_order(DRAFT)
    second = await pos.place_order(same_draft_other_spelling)

    assert create.calls[0].request.content == create.calls[1].request.content
    assert first == second


async def test_key_reused_for_another_order_is_its_own_refusal(square, pos):
    square.post("/v2/orders").respond(400, json=square_error("IDEMPOTENCY_KEY_REUSED"))

    with pytest.raises(IdempotencyKeyReused) as caught:
        await pos.place_order(DRAFT)

    error = caught.value
    assert isinstance(error, UpstreamRejected)
    assert (error.code, error.service, error.operation) == (
        "IDEMPOTENCY_KEY_REUSED",
        "square",
        "square.orders.create",
    )
    assert "IDEMPOTENCY_KEY_REUSED" in error.detail
    assert "secret vendor detail" not in error.public_message


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(400, json=square_error("INVALID_VALUE")), UpstreamRejected),
        (httpx.Response(404, json=square_error("NOT_FOUND")), UpstreamRejected),
        (
            httpx.Response(500, json=square_error("INTERNAL_SERVER_ERROR", "API_ERROR")),
            UpstreamUnavailable,
        ),
        (
            httpx.Response(429, json=square_error("RATE_LIMITED", "RATE_LIMIT_ERROR")),
            UpstreamThrottled,
        ),
        (httpx.ReadTimeout("slow"), UpstreamTimeout),
    ],
)
async def test_other_failures_of_create_order(square, pos, response, expected):
    route = square.post("/v2/orders")
    if isinstance(response, Exception):
        route.mock(side_effect=response)
    else:
        route.mock(return_value=response)

    with pytest.raises(UpstreamError) as caught:
        await pos.place_order(DRAFT)

    assert type(caught.value) is expected
    assert caught.value.operation == "square.orders.create"
    assert "secret vendor detail" not in caught.value.public_message


async def test_a_created_order_without_its_fields_is_unavailable(square, pos):
    square.post("/v2/orders").respond(json={"order": {"id": "ORDER1"}})
    with pytest.raises(UpstreamUnavailable, match="unexpected body") as caught:
        await pos.place_order(DRAFT)
    assert not isinstance(caught.value, UpstreamRejected)


async def test_a_price_finer_than_a_cent_is_refused_before_square_is_asked(square, pos):
    create = square.post("/v2/orders").respond(json=created())
    with pytest.raises(ValueError, match="finer than"):
        await pos.place_order(
            dataclasses.replace(DRAFT, lines=(OrderLineDraft("SKU-1", 1, usd("1.005")),))
        )
    assert create.call_count == 0


class RecordingHttp(UpstreamHttp):
    """UpstreamHttp as it is about to be: `send` takes `idempotent`; this one records it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client, service="square", base_url=BASE)
        self.idempotent: dict[str, bool] = {}

    async def send(self, operation, method, path_or_url, *, idempotent=False, **options):
        self.idempotent[operation] = idempotent
        return await super().send(operation, method, path_or_url, **options)


async def test_create_order_may_be_resent_because_it_carries_squares_key(square):
    square.post("/v2/orders").respond(json=created())
    async with httpx.AsyncClient() as client:
        http = RecordingHttp(client)
        await SquarePos(http, SETTINGS).place_order(DRAFT)
    assert http.idempotent == {"square.catalog.search": True, "square.orders.create": True}
