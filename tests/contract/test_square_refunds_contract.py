"""Square Refunds and inventory changes on Square's own contract: every RefundPayment and
BatchChangeInventory the adapters send, and every answer the simulator gives them, is
validated against Square's official OpenAPI document (tests/contract/square_openapi.py,
names closed), and the simulator is held to Square's documented behaviour: a refund once
per key, never past what is left of the payment, only of a completed payment; returned
units counted IN_STOCK once per key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from square_openapi import SquareContract, square_contract
from starlette.applications import Starlette
from test_square_payments_contract import (
    AUTH,
    NOW,
    URL,
    Judge,
    judged_client,
    pay_at_till,
    request_for,
    till_order,
    upstream,
)

from connectors.errors import IdempotencyKeyReused, UpstreamRejected
from connectors.records import Money, RefundRequest, Restock
from connectors.square import SquarePayments, SquareSettings
from connectors.square.inventory import SquareInventory
from sandbox.dataset import Dataset, build_dataset
from sandbox.square import create_app


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture
def contract() -> SquareContract:
    return square_contract()


@pytest.fixture
def app(dataset: Dataset) -> Starlette:
    return create_app(dataset, public_url=URL, wall_clock=lambda: NOW)


@pytest.fixture
async def judged(
    app: Starlette, contract: SquareContract
) -> AsyncIterator[tuple[httpx.AsyncClient, Judge]]:
    async with judged_client(app, contract) as pair:
        yield pair


@pytest.fixture
def payments(judged: tuple[httpx.AsyncClient, Judge]) -> SquarePayments:
    return SquarePayments(upstream(judged[0]), SquareSettings())


@pytest.fixture
def inventory(judged: tuple[httpx.AsyncClient, Judge]) -> SquareInventory:
    return SquareInventory(upstream(judged[0]), SquareSettings())


def refund_of(payment_id: str, key: str = "refund-1", amount: str = "10.00") -> RefundRequest:
    return RefundRequest(
        idempotency_key=key,
        payment_id=payment_id,
        amount=Money(Decimal(amount), "USD"),
        reason="omnigate return",
    )


async def captured(payments: SquarePayments) -> str:
    authorised = await payments.authorize(request_for())
    await payments.complete(authorised.ref.id)
    return authorised.ref.id


async def test_a_refund_on_the_contract_once_per_key(payments, judged, app):
    _, judge = judged
    payment_id = await captured(payments)
    refund = await payments.refund(refund_of(payment_id))
    assert (refund.payment_id, refund.amount, refund.status) == (
        payment_id,
        Money(Decimal("10.00"), "USD"),
        "COMPLETED",
    )
    again = await payments.refund(refund_of(payment_id))
    assert again == refund, "the same key answers the first refund"
    assert len(app.state.square.refunds) == 1
    payment = app.state.square.payments[payment_id]
    assert payment["refunded_money"] == {"amount": 1000, "currency": "USD"}
    assert payment["refund_ids"] == [refund.ref.id]
    with pytest.raises(IdempotencyKeyReused):
        await payments.refund(refund_of(payment_id, amount="1.00"))
    assert [s for _, path, s in judge.seen if path == "/v2/refunds"] == [200, 200, 400]


async def test_never_past_what_is_left_of_the_payment(payments, app):
    payment_id = await captured(payments)  # 42.50
    await payments.refund(refund_of(payment_id, "r-1", "40.00"))
    with pytest.raises(UpstreamRejected) as caught:
        await payments.refund(refund_of(payment_id, "r-2", "2.51"))
    assert caught.value.status == 400
    last = await payments.refund(refund_of(payment_id, "r-3", "2.50"))
    assert last.amount == Money(Decimal("2.50"), "USD")
    assert len(app.state.square.refunds) == 2


async def test_only_a_completed_payment_is_refunded(payments, judged):
    client, judge = judged
    authorised = await payments.authorize(request_for(key="held"))
    judge.requests = True
    answer = await client.post(
        "/v2/refunds",
        headers=AUTH,
        json={
            "idempotency_key": "held-refund",
            "payment_id": authorised.ref.id,
            "amount_money": {"amount": 100, "currency": "USD"},
        },
    )
    assert answer.status_code == 400
    (error,) = answer.json()["errors"]
    assert error["code"] == "REFUND_ERROR_PAYMENT_NEEDS_COMPLETION"


async def test_a_refund_of_an_orders_payment_is_listed_on_the_order(judged, dataset):
    client, _ = judged
    order = await till_order(client, dataset, "order-r", product=0, quantity=2)
    paid = await pay_at_till(client, order, "till-r")
    payment = paid.json()["payment"]
    refunded = await client.post(
        "/v2/refunds",
        headers=AUTH,
        json={
            "idempotency_key": "refund-order",
            "payment_id": payment["id"],
            "amount_money": {"amount": 100, "currency": "USD"},
            "reason": "returned",
        },
    )
    assert refunded.json()["refund"]["order_id"] == order["id"]
    read = await client.post(
        "/v2/orders/batch-retrieve", headers=AUTH, json={"order_ids": [order["id"]]}
    )
    (after,) = read.json()["orders"]
    assert [(r["tender_id"], r["amount_money"]["amount"]) for r in after["refunds"]] == [
        (payment["id"], 100)
    ]


async def test_returned_units_are_counted_in_stock_once_per_key(inventory, judged, dataset):
    _, judge = judged
    store = dataset.stores[1].id
    sku = dataset.products[2].sku
    before = {(lv.sku, lv.location_id): lv.quantity for lv in await inventory.stock([sku], [store])}
    restock = Restock(idempotency_key="restock-1", location_id=store, quantities=((sku, 3),))
    await inventory.restock(restock)
    await inventory.restock(restock)
    after = {(lv.sku, lv.location_id): lv.quantity for lv in await inventory.stock([sku], [store])}
    assert after[(sku, store)] == before.get((sku, store), 0) + 3
    changes = [s for _, path, s in judge.seen if path == "/v2/inventory/changes/batch-create"]
    assert changes == [200, 200]


async def test_the_simulator_refuses_changes_it_does_not_model(judged, dataset):
    client, judge = judged
    judge.requests = False
    answer = await client.post(
        "/v2/inventory/changes/batch-create",
        headers=AUTH,
        json={
            "idempotency_key": "sold",
            "changes": [
                {
                    "type": "ADJUSTMENT",
                    "adjustment": {
                        "from_state": "IN_STOCK",
                        "to_state": "SOLD",
                        "location_id": dataset.stores[0].id,
                        "catalog_object_id": dataset.products[0].square_variation_id,
                        "quantity": "1",
                    },
                }
            ],
        },
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "INVALID_VALUE"
