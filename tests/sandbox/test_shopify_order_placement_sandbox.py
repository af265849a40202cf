"""Placing online orders: the Shopify adapter against the simulator's orderCreate, no mocks.

Holds the simulator to Shopify's contract (orderCreate itself is not idempotent, a custom
ID is unique and found at once by orderByIdentifier, refusals are userErrors, a mutation
costs 10) and the adapter's exactly-once on top of it, down to the order being listed
first in the customer's `orders`. Each test gets its own app.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectors.errors import IdempotencyKeyReused, OrderRejected
from connectors.http import UpstreamHttp
from connectors.records import (
    Channel,
    ExternalRef,
    Money,
    OrderDraft,
    OrderLineDraft,
    OrderPayment,
    OrderQuery,
    System,
)
from connectors.shopify import ShopifyEcommerce, ShopifySettings
from sandbox.dataset import Dataset, build_dataset
from sandbox.server import UNTHROTTLED
from sandbox.shopify import create_app

BASE = "http://shop.test"
PATH = "/admin/api/2026-07/graphql.json"
TOKEN = {"X-Shopify-Access-Token": "shpat_sandbox"}
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # after every dataset order


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture
def app(dataset: Dataset) -> Starlette:
    return create_app(dataset, public_url=BASE, plan=UNTHROTTLED, wall_clock=lambda: NOW)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


@pytest.fixture
def shopify(client: httpx.AsyncClient) -> ShopifyEcommerce:
    http = UpstreamHttp(client, service="shopify", base_url=BASE)
    return ShopifyEcommerce(http, ShopifySettings(base_url=BASE))


def usd(amount: Decimal | str) -> Money:
    return Money(Decimal(amount), "USD")


def customer_gid(dataset: Dataset) -> str:
    return f"gid://shopify/Customer/{dataset.shop_customers[0].id}"


def draft_for(dataset: Dataset, key: str = "checkout-1", **changes: Any) -> OrderDraft:
    first, second = dataset.products[3], dataset.products[4]
    draft = OrderDraft(
        idempotency_key=key,
        customer_refs=(ExternalRef(System.SHOPIFY, customer_gid(dataset)),),
        lines=(
            OrderLineDraft(first.sku, 2, usd(first.price)),
            OrderLineDraft(second.sku, 1, usd(second.price)),
        ),
        currency="USD",
        location_id=dataset.stores[0].id,
        pickup=True,
        discount=usd("5.00"),
        note="Gift wrap",
    )
    return dataclasses.replace(draft, **changes)


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post(PATH, json={"query": query, "variables": variables}, headers=TOKEN)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def placed_count(app: Starlette, dataset: Dataset) -> int:
    # the shop's seeded orders: online, and the in-store receipts of its POS
    return len(app.state.shop.orders.rows) - len(dataset.online_orders) - len(dataset.pos_orders)


CREATE = """
mutation Create($order: OrderCreateOrderInput!) {
  orderCreate(order: $order) {
    order { id name totalPriceSet { shopMoney { amount } } }
    userErrors { code field message }
  }
}
"""
BY_CUSTOM_ID = """
query Find($value: String!) {
  orderByIdentifier(identifier: {customId: {namespace: "ns", key: "ref", value: $value}}) {
    id
    note
    tags
    metafield(namespace: "ns", key: "ref") { value type }
  }
}
"""


def custom_line(cents: str = "10.00") -> dict[str, Any]:
    return {
        "title": "Gift card",
        "quantity": 1,
        "priceSet": {"shopMoney": {"amount": cents, "currencyCode": "USD"}},
    }


def custom_id(value: str) -> dict[str, Any]:
    return {"namespace": "ns", "key": "ref", "type": "id", "value": value}


# --- the adapter end to end -----------------------------------------------------------------


async def test_one_key_placed_twice_is_one_order_listed_first_for_the_customer(
    app, shopify, client, dataset
):
    draft = draft_for(dataset)

    first = await shopify.place_order(draft)
    again = await shopify.place_order(draft)

    assert again == first
    assert placed_count(app, dataset) == 1
    assert app.state.calls["graphql orderCreate"] == 1
    assert first.channel is Channel.ONLINE
    assert first.created_at == NOW
    assert first.customer_ref == draft.customer_refs[0]
    subtotal = sum((line.unit_price.amount * line.quantity for line in draft.lines), Decimal(0))
    assert first.total == usd(subtotal - Decimal("5.00"))
    assert [(line.sku, line.quantity) for line in first.lines] == [
        (line.sku, line.quantity) for line in draft.lines
    ]

    history = await shopify.orders(OrderQuery(customer_ids=(customer_gid(dataset),), limit=50))
    assert history[0] == first
    assert [o.ref.id for o in history].count(first.ref.id) == 1

    read = await gql(
        client,
        "query($id: ID!) { order(id: $id) { note tags discountCode customer { numberOfOrders } "
        "customAttributes { key value } totalDiscountsSet { shopMoney { amount } } } }",
        id=first.ref.id,
    )
    order = read["data"]["order"]
    assert (order["note"], order["tags"], order["discountCode"]) == (
        "Gift wrap",
        ["omnigate", "pickup"],
        "OMNIGATE-PROMOTION",
    )
    assert order["customAttributes"] == [
        {"key": "pickup_location_id", "value": dataset.stores[0].id}
    ]
    assert order["totalDiscountsSet"]["shopMoney"]["amount"] == "5.00"
    # every order of the customer the shop holds, online and in store, the new one included
    buyer = dataset.shop_customers[0].id
    known = sum(1 for row in app.state.shop.orders.rows if row.order.customer_id == buyer)
    assert order["customer"]["numberOfOrders"] == str(known)


async def test_the_key_of_another_draft_is_refused_and_creates_nothing(app, shopify, dataset):
    await shopify.place_order(draft_for(dataset))
    with pytest.raises(IdempotencyKeyReused):
        await shopify.place_order(draft_for(dataset, note="Another note"))
    assert placed_count(app, dataset) == 1


class CreatesTogether(httpx.AsyncBaseTransport):
    """Holds each orderCreate until `parties` of them are in flight: a race, made certain."""

    def __init__(self, inner: httpx.AsyncBaseTransport, parties: int) -> None:
        self.inner = inner
        self.barrier = asyncio.Barrier(parties)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if b"orderCreate" in request.content:
            await self.barrier.wait()
        return await self.inner.handle_async_request(request)


async def test_two_attempts_racing_for_one_key_make_one_order(app, dataset):
    draft = draft_for(dataset)
    transport = CreatesTogether(httpx.ASGITransport(app=app), parties=2)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        http = UpstreamHttp(client, service="shopify", base_url=BASE)
        shopify = ShopifyEcommerce(http, ShopifySettings(base_url=BASE))
        first, second = await asyncio.gather(shopify.place_order(draft), shopify.place_order(draft))

    assert first == second
    assert placed_count(app, dataset) == 1
    # Both looked the key up before either created; Shopify refused the second custom ID
    # and the loser answered the winner's order.
    assert app.state.calls["graphql orderCreate"] == 2
    assert app.state.calls["graphql orderByIdentifier"] == 3


async def test_a_sku_the_shop_lacks_is_a_custom_line_keeping_its_sku(shopify, dataset):
    lines = (OrderLineDraft("POS-ONLY-1", 3, usd("4.25")),)
    record = await shopify.place_order(draft_for(dataset, lines=lines, discount=None))
    (line,) = record.lines
    assert (line.sku, line.name, line.quantity) == ("POS-ONLY-1", "POS-ONLY-1", 3)
    assert line.total == usd("12.75")


async def test_a_refused_order_is_order_rejected_and_creates_nothing(app, shopify, dataset):
    stranger = ExternalRef(System.SHOPIFY, "gid://shopify/Customer/1")
    with pytest.raises(OrderRejected) as caught:
        await shopify.place_order(draft_for(dataset, customer_refs=(stranger,)))
    assert "order.customer.toAssociate.id" in caught.value.detail
    assert caught.value.public_message == "The shopify service refused the order."
    assert placed_count(app, dataset) == 0


async def test_a_guest_order_has_no_customer(shopify, dataset):
    record = await shopify.place_order(draft_for(dataset, customer_refs=(), pickup=False))
    assert record.customer_ref is None


# --- the simulator's contract ----------------------------------------------------------------


async def test_order_create_itself_is_not_idempotent(app, client, dataset):
    order = {"lineItems": [custom_line()]}
    first = await gql(client, CREATE, order=order)
    second = await gql(client, CREATE, order=order)
    ids = [body["data"]["orderCreate"]["order"]["id"] for body in (first, second)]
    assert ids[0] != ids[1]
    assert placed_count(app, dataset) == 2


async def test_a_custom_id_is_unique_and_found_at_once(app, client, dataset):
    order = {"lineItems": [custom_line()], "metafields": [custom_id("k-1")], "note": "first"}
    created = (await gql(client, CREATE, order=order))["data"]["orderCreate"]
    assert created["userErrors"] == []

    duplicate = (await gql(client, CREATE, order={**order, "note": "second"}))["data"]
    assert duplicate["orderCreate"] == {
        "order": None,
        "userErrors": [
            {
                "code": "INVALID",
                "field": ["order", "metafields", "0", "value"],
                "message": "Value is already taken by another order.",
            }
        ],
    }
    assert placed_count(app, dataset) == 1

    found = (await gql(client, BY_CUSTOM_ID, value="k-1"))["data"]["orderByIdentifier"]
    assert found["id"] == created["order"]["id"]
    assert found["note"] == "first"
    assert found["metafield"] == {"value": "k-1", "type": "id"}
    assert (await gql(client, BY_CUSTOM_ID, value="k-2"))["data"]["orderByIdentifier"] is None


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({"lineItems": []}, ["order", "lineItems"]),
        (
            {"lineItems": [{"variantId": "gid://shopify/ProductVariant/1", "quantity": 1}]},
            ["order", "lineItems", "0", "variantId"],
        ),
        ({"lineItems": [{**custom_line(), "title": " "}]}, ["order", "lineItems", "0", "title"]),
        (
            {"lineItems": [{"title": "Free", "quantity": 1}]},
            ["order", "lineItems", "0", "priceSet"],
        ),
        (
            {"lineItems": [{**custom_line(), "quantity": 0}]},
            ["order", "lineItems", "0", "quantity"],
        ),
        (
            {
                "lineItems": [
                    {
                        **custom_line(),
                        "priceSet": {"shopMoney": {"amount": "1", "currencyCode": "EUR"}},
                    }
                ]
            },
            ["order", "lineItems", "0", "priceSet", "shopMoney", "currencyCode"],
        ),
        (
            {"lineItems": [custom_line()], "metafields": [{"key": "ref", "value": "v"}]},
            ["order", "metafields", "0", "type"],
        ),
        (
            {
                "lineItems": [custom_line()],
                "customer": {"toAssociate": {"id": "gid://shopify/Customer/1"}},
            },
            ["order", "customer", "toAssociate", "id"],
        ),
    ],
)
async def test_refusals_are_user_errors_and_create_nothing(app, client, dataset, order, field):
    body = await gql(client, CREATE, order=order)
    payload = body["data"]["orderCreate"]
    assert payload["order"] is None
    (error,) = payload["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", field)
    assert placed_count(app, dataset) == 0


async def test_a_variant_line_is_priced_from_the_catalog_unless_a_price_is_given(client, dataset):
    product = dataset.products[5]
    variant = f"gid://shopify/ProductVariant/{product.shopify_variant_id}"
    plain = {"lineItems": [{"variantId": variant, "quantity": 2}]}
    priced = {
        "lineItems": [
            {
                "variantId": variant,
                "quantity": 2,
                "priceSet": {"shopMoney": {"amount": "1.50", "currencyCode": "USD"}},
            }
        ]
    }
    totals = [
        (await gql(client, CREATE, order=order))["data"]["orderCreate"]["order"]["totalPriceSet"]
        for order in (plain, priced)
    ]
    assert [t["shopMoney"]["amount"] for t in totals] == [f"{product.price * 2:.2f}", "3.00"]


async def test_a_mutation_is_priced_at_ten_plus_its_selection(client):
    body = await gql(
        client,
        "mutation($order: OrderCreateOrderInput!) { orderCreate(order: $order) "
        "{ order { id } userErrors { message } } }",
        order={"lineItems": [custom_line()]},
    )
    # payload 1 + order 1 + userErrors 1, the payload's 1 replaced by the mutation's 10
    assert body["extensions"]["cost"]["requestedQueryCost"] == 12
    assert body["extensions"]["cost"]["actualQueryCost"] == 11  # no user errors came back


PAID_ORDER = """
query ($id: ID!) {
  order(id: $id) {
    displayFinancialStatus
    totalPriceSet { shopMoney { amount } }
    transactions(first: 5) {
      kind status gateway authorizationCode amountSet { shopMoney { amount currencyCode } }
    }
  }
}
"""


async def test_a_paid_draft_is_a_paid_order_recording_its_sale(shopify, client, dataset):
    """The draft's payment goes in as `transactions` (OrderCreateOrderTransactionInput,
    checked by the simulator's Shopify schema as it executes) and reads back as the
    order's successful SALE through the payment's gateway."""
    unpaid = draft_for(dataset)
    total = sum((line.unit_price.amount * line.quantity for line in unpaid.lines), Decimal(0))
    total -= Decimal("5.00")
    paid = dataclasses.replace(unpaid, payment=OrderPayment("square", "PAYMENT-1", usd(total)))
    record = await shopify.place_order(paid)
    assert record.total == usd(total)
    body = await gql(client, PAID_ORDER, id=record.ref.id)
    assert "errors" not in body, body
    order = body["data"]["order"]
    assert order["displayFinancialStatus"] == "PAID"
    assert order["transactions"] == [
        {
            "kind": "SALE",
            "status": "SUCCESS",
            "gateway": "square",
            "authorizationCode": "PAYMENT-1",
            "amountSet": {"shopMoney": {"amount": f"{total:.2f}", "currencyCode": "USD"}},
        }
    ]
    assert await shopify.place_order(paid) == record, "the retry of a paid draft finds it"


async def test_a_sale_of_part_of_the_total_is_partly_paid(client):
    created = await gql(
        client,
        CREATE,
        order={
            "lineItems": [custom_line("10.00")],
            "transactions": [
                {
                    "gateway": "square",
                    "amountSet": {"shopMoney": {"amount": "4.00", "currencyCode": "USD"}},
                }
            ],
        },
    )
    order_id = created["data"]["orderCreate"]["order"]["id"]
    body = await gql(client, PAID_ORDER, id=order_id)
    order = body["data"]["order"]
    assert order["displayFinancialStatus"] == "PARTIALLY_PAID"
    assert order["transactions"][0]["kind"] == "SALE"
    assert order["transactions"][0]["status"] == "SUCCESS"


async def test_an_unknown_transaction_field_is_refused_by_the_schema(client):
    body = await gql(
        client,
        CREATE,
        order={
            "lineItems": [custom_line()],
            "transactions": [{"gateway": "square", "amount": "10.00"}],
        },
    )
    assert body.get("errors"), body
