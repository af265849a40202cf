"""Square Payments on Square's own contract: the adapter's requests and the simulator's answers.

Every request SquarePayments sends and every answer the simulator gives it passes through
an httpx event hook here and is validated against Square's official OpenAPI document
(tests/contract/square_openapi.py, names closed), and the simulator is held to Square's
documented behaviour: delayed capture, idempotency, the Sandbox's test tokens and their
declines, a completed payment becoming its order's tender.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from square_openapi import SquareContract, square_contract
from starlette.applications import Starlette

from connectors.errors import IdempotencyKeyReused, PaymentDeclined, UpstreamRejected
from connectors.http import UpstreamHttp
from connectors.records import Money, PaymentRequest, PaymentStatus
from connectors.square import SquarePayments, SquareSettings
from sandbox.dataset import Dataset, build_dataset
from sandbox.square import create_app

URL = "http://square.sandbox"
AUTH = {"Authorization": "Bearer sandbox-square-token"}
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture
def contract() -> SquareContract:
    return square_contract()


@pytest.fixture
def app(dataset: Dataset) -> Starlette:
    return create_app(dataset, public_url=URL, wall_clock=lambda: NOW)


class Judge:
    """Holds each exchange to the contract as it happens."""

    def __init__(self, contract: SquareContract) -> None:
        self.contract = contract
        self.seen: list[tuple[str, str, int]] = []
        # off for the tests that send Square invalid requests on purpose
        self.requests = True

    async def on_request(self, request: httpx.Request) -> None:
        if self.requests and request.method != "GET":
            body = json.loads(request.content) if request.content else None
            self.contract.request(request.method, request.url.path, body)

    async def on_response(self, response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        self.contract.answer(request.method, request.url.path, response.json())
        self.seen.append((request.method, request.url.path, response.status_code))


@asynccontextmanager
async def judged_client(
    app: Starlette, contract: SquareContract
) -> AsyncIterator[tuple[httpx.AsyncClient, Judge]]:
    """A client of the simulator whose every exchange the Judge holds to the contract."""
    judge = Judge(contract)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=URL,
        event_hooks={"request": [judge.on_request], "response": [judge.on_response]},
    ) as client:
        yield client, judge


def upstream(client: httpx.AsyncClient) -> UpstreamHttp:
    return UpstreamHttp(client, service="square", base_url=URL)


@pytest.fixture
async def judged(
    app: Starlette, contract: SquareContract
) -> AsyncIterator[tuple[httpx.AsyncClient, Judge]]:
    async with judged_client(app, contract) as pair:
        yield pair


@pytest.fixture
def payments(judged: tuple[httpx.AsyncClient, Judge]) -> SquarePayments:
    return SquarePayments(upstream(judged[0]), SquareSettings())


def request_for(key: str = "pay-1", token: str = "cnon:card-nonce-ok", amount: str = "42.50"):
    return PaymentRequest(
        idempotency_key=key,
        source_token=token,
        amount=Money(Decimal(amount), "USD"),
        reference_id="omnigate-checkout-1",
        note="omnigate checkout",
    )


async def test_authorise_then_complete_on_the_contract(payments, judged):
    _, judge = judged
    authorised = await payments.authorize(request_for())
    assert authorised.status is PaymentStatus.APPROVED
    assert authorised.amount == Money(Decimal("42.50"), "USD")
    assert (authorised.card_brand, authorised.last_4, authorised.gateway) == (
        "VISA",
        "1111",
        "square",
    )
    completed = await payments.complete(authorised.ref.id)
    assert completed.status is PaymentStatus.COMPLETED
    again = await payments.complete(authorised.ref.id)
    assert again == completed, "completing twice is the lost answer's retry: no second charge"
    fetched = await payments.payment(authorised.ref.id)
    assert fetched == completed
    assert [(m, s) for m, _, s in judge.seen] == [
        ("POST", 200),
        ("POST", 200),
        ("POST", 200),
        ("GET", 200),
    ]


async def test_authorise_then_cancel_releases_the_hold(payments, app):
    authorised = await payments.authorize(request_for())
    cancelled = await payments.cancel(authorised.ref.id)
    assert cancelled.status is PaymentStatus.CANCELED
    assert (await payments.cancel(authorised.ref.id)).status is PaymentStatus.CANCELED
    with pytest.raises(UpstreamRejected):
        await payments.complete(authorised.ref.id)
    payment = app.state.square.payments[authorised.ref.id]
    assert payment["card_details"]["status"] == "VOIDED"


async def test_the_same_key_answers_the_first_payment_and_charges_once(payments, app):
    first = await payments.authorize(request_for())
    second = await payments.authorize(request_for())
    assert first == second
    assert len(app.state.square.payments) == 1
    with pytest.raises(IdempotencyKeyReused):
        await payments.authorize(request_for(amount="1.00"))
    assert len(app.state.square.payments) == 1


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("cnon:card-nonce-declined", "CARD_DECLINED"),
        ("cnon:card-nonce-rejected-cvv", "CVV_FAILURE"),
        ("cnon:card-nonce-rejected-postalcode", "ADDRESS_VERIFICATION_FAILURE"),
        ("cnon:card-nonce-rejected-expiration", "INVALID_EXPIRATION"),
        ("cnon:card-nonce-already-used", "CARD_TOKEN_USED"),
        ("cnon:not-a-sandbox-token", "NOT_FOUND"),
    ],
)
async def test_a_declining_token_is_a_decline_with_squares_code(payments, app, judged, token, code):
    _, judge = judged
    with pytest.raises(PaymentDeclined) as caught:
        await payments.authorize(request_for(token=token))
    assert caught.value.decline_code == code
    assert not caught.value.retryable
    assert "Authorization error" not in caught.value.public_message
    assert app.state.square.payments == {}, "no money moved"
    assert judge.seen[-1][2] in (400, 404)


async def test_the_declined_envelope_is_squares(judged, contract):
    client, _ = judged
    body = {
        "source_id": "cnon:card-nonce-declined",
        "idempotency_key": "declined-1",
        "amount_money": {"amount": 100, "currency": "USD"},
        "autocomplete": False,
    }
    answer = await client.post("/v2/payments", json=body, headers=AUTH)
    assert answer.status_code == 400
    assert answer.json() == {
        "errors": [
            {
                "category": "PAYMENT_METHOD_ERROR",
                "code": "CARD_DECLINED",
                "detail": "Authorization error: 'CARD_DECLINED'",
            }
        ]
    }
    replay = await client.post("/v2/payments", json=body, headers=AUTH)
    assert replay.json() == answer.json(), "the same key answers the same refusal"


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"idempotency_key": "k" * 46}, "VALUE_TOO_LONG", "idempotency_key"),
        ({"source_id": None}, "MISSING_REQUIRED_PARAMETER", "source_id"),
        ({"amount_money": {"amount": 100, "currency": "EUR"}}, "INVALID_VALUE", None),
        ({"reference_id": "r" * 41}, "VALUE_TOO_LONG", "reference_id"),
        ({"tip": 1}, "UNKNOWN_BODY_PARAMETER", "tip"),
    ],
)
async def test_invalid_requests_are_refused_with_squares_codes(judged, change, code, field):
    client, judge = judged
    judge.requests = False
    body: dict[str, Any] = {
        "source_id": "cnon:card-nonce-ok",
        "idempotency_key": "bad-1",
        "amount_money": {"amount": 100, "currency": "USD"},
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    answer = await client.post("/v2/payments", json=body, headers=AUTH)
    assert answer.status_code == 400
    (error,) = answer.json()["errors"]
    assert (error["category"], error["code"]) == ("INVALID_REQUEST_ERROR", code)
    if field is not None:
        assert error["field"] == field


async def till_order(
    client: httpx.AsyncClient, dataset: Dataset, key: str, product: int, quantity: int = 1
) -> dict[str, Any]:
    """CreateOrder at the first store for `quantity` of the dataset's `product`-th product:
    a sale waiting for the terminal."""
    created = await client.post(
        "/v2/orders",
        headers=AUTH,
        json={
            "idempotency_key": key,
            "order": {
                "location_id": dataset.stores[0].id,
                "line_items": [
                    {
                        "quantity": str(quantity),
                        "catalog_object_id": dataset.products[product].square_variation_id,
                    }
                ],
            },
        },
    )
    order: dict[str, Any] = created.json()["order"]
    return order


async def pay_at_till(
    client: httpx.AsyncClient,
    order: dict[str, Any],
    key: str,
    amount: dict[str, Any] | None = None,
) -> httpx.Response:
    """CreatePayment attached to the order, as the terminal takes it: what is due, or
    `amount`."""
    return await client.post(
        "/v2/payments",
        headers=AUTH,
        json={
            "source_id": "cnon:card-nonce-ok",
            "idempotency_key": key,
            "amount_money": amount or order["net_amount_due_money"],
            "order_id": order["id"],
        },
    )


async def test_a_terminal_payment_for_an_order_becomes_its_tender(judged, app, dataset):
    client, _ = judged
    location = dataset.stores[0].id
    order = await till_order(client, dataset, "order-1", product=0)
    paid = await pay_at_till(client, order, "till-1")
    payment = paid.json()["payment"]
    assert (payment["status"], payment["order_id"]) == ("COMPLETED", order["id"])
    assert app.state.square.is_paid(order["id"])
    read = await client.post(
        "/v2/orders/batch-retrieve", headers=AUTH, json={"order_ids": [order["id"]]}
    )
    (after,) = read.json()["orders"]
    assert after["tenders"][0]["payment_id"] == payment["id"]
    assert after["net_amount_due_money"]["amount"] == 0
    assert after["state"] == "COMPLETED", "paid in full with nothing to fulfil"
    listed = await client.get("/v2/payments", headers=AUTH, params={"location_id": location})
    assert [p["id"] for p in listed.json()["payments"]] == [payment["id"]]
    too_much = await pay_at_till(client, order, "till-2", {"amount": 1, "currency": "USD"})
    assert too_much.status_code == 400


async def test_points_accrue_only_on_a_paid_order(judged, dataset):
    client, _ = judged
    account = dataset.loyalty_accounts[0]
    order = await till_order(client, dataset, "order-2", product=1)
    accumulate = {
        "accumulate_points": {"order_id": order["id"]},
        "location_id": dataset.stores[0].id,
        "idempotency_key": "earn-1",
    }
    path = f"/v2/loyalty/accounts/{account.id}/accumulate"
    unpaid = await client.post(path, headers=AUTH, json=accumulate)
    assert unpaid.status_code == 400
    await pay_at_till(client, order, "till-3")
    paid = await client.post(path, headers=AUTH, json={**accumulate, "idempotency_key": "earn-2"})
    assert paid.status_code == 200
    assert paid.json()["events"][0]["accumulate_points"]["points"] > 0


def test_the_judge_refuses_what_square_would_not_know(contract):
    good = {
        "source_id": "cnon:card-nonce-ok",
        "idempotency_key": "k",
        "amount_money": {"amount": 1, "currency": "USD"},
    }
    contract.request("POST", "/v2/payments", good)
    with pytest.raises(AssertionError, match="autocompletes"):
        contract.request("POST", "/v2/payments", {**good, "autocompletes": False})
    with pytest.raises(AssertionError, match="is too long"):
        contract.request("POST", "/v2/payments", {**good, "idempotency_key": "k" * 46})


async def test_whether_a_store_order_is_paid_is_read_from_its_tenders(payments, judged, dataset):
    client, judge = judged
    order = await till_order(client, dataset, "order-3", product=2)
    assert await payments.order_paid(order["id"]) is False
    await pay_at_till(client, order, "till-4")
    assert await payments.order_paid(order["id"]) is True
    assert await payments.order_paid("NO-SUCH-ORDER") is False
    assert ("POST", "/v2/orders/batch-retrieve", 200) in judge.seen


async def test_a_payment_event_carries_the_simulators_payment_on_squares_contract(judged, contract):
    """The payment.updated event a webhook delivers (tests/test_payments.py builds them from
    the simulator's payments) is Square's PaymentUpdatedEvent."""
    client, _ = judged
    created = await client.post(
        "/v2/payments",
        headers=AUTH,
        json={
            "source_id": "cnon:card-nonce-ok",
            "idempotency_key": "event-1",
            "amount_money": {"amount": 100, "currency": "USD"},
        },
    )
    payment = created.json()["payment"]
    event = {
        "merchant_id": "MLSANDBOX",
        "type": "payment.updated",
        "event_id": "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc",
        "created_at": payment["updated_at"],
        "data": {"type": "payment", "id": payment["id"], "object": {"payment": payment}},
    }
    contract.schema("PaymentUpdatedEvent", event)
