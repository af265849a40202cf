"""The Shopify adapter's side of the Admin GraphQL API contract, against recorded-style answers.

What goes over the wire (path, token header, documents, variables, batching, paging) and
how every answer Shopify can give is read: mapped records, or the right UpstreamError.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors.errors import (
    UpstreamError,
    UpstreamRejected,
    UpstreamThrottled,
    UpstreamUnavailable,
)
from connectors.http import UpstreamHttp
from connectors.records import (
    Channel,
    ExternalRef,
    Money,
    OrderLine,
    OrderQuery,
    ProductRecord,
    System,
)
from connectors.shopify import ShopifyEcommerce, ShopifySettings

SHOP = "https://omni-test.myshopify.com"
PATH = "/admin/api/2026-07/graphql.json"
SETTINGS = ShopifySettings(
    base_url=SHOP, access_token=SecretStr("shpat_contract"), api_version="2026-07"
)


@pytest.fixture
async def mocked() -> AsyncIterator[respx.MockRouter]:
    async with respx.mock(base_url=SHOP, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def shopify(mocked: respx.MockRouter) -> AsyncIterator[ShopifyEcommerce]:
    async with httpx.AsyncClient() as client:
        yield ShopifyEcommerce(UpstreamHttp(client, service="shopify", base_url=SHOP), SETTINGS)


def sent(call: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(call.request.content)
    return body


def answer(data: dict[str, Any]) -> httpx.Response:
    cost = {
        "requestedQueryCost": 10,
        "actualQueryCost": 10,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 1990,
            "restoreRate": 100.0,
        },
    }
    return httpx.Response(200, json={"data": data, "extensions": {"cost": cost}})


def product_node(number: int, *, image: str | None = "https://cdn.test/p.jpg") -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Product/{number}",
        "title": f"Product {number}",
        "handle": f"product-{number}",
        "description": f"About product {number}",
        "productType": "Shoes",
        "vendor": "Northfield",
        "featuredMedia": {"image": {"url": image}} if image else None,
    }


def variant_node(sku: str, price: str = "19.90", number: int = 1) -> dict[str, Any]:
    return {"sku": sku, "price": price, "product": product_node(number)}


def variants_answer(nodes: list[dict[str, Any]], next_cursor: str | None = None) -> httpx.Response:
    return answer(
        {
            "shop": {"currencyCode": "EUR"},
            "productVariants": {
                "edges": [{"node": node} for node in nodes],
                "pageInfo": {"hasNextPage": next_cursor is not None, "endCursor": next_cursor},
            },
        }
    )


# --- products_by_sku ------------------------------------------------------------------------


async def test_products_by_sku_sends_one_variant_search_with_the_token(
    mocked: respx.MockRouter, shopify: ShopifyEcommerce
) -> None:
    route = mocked.post(PATH).mock(
        return_value=variants_answer([variant_node("A-1", "19.90", 7), variant_node("A-10")])
    )
    found = await shopify.products_by_sku(["A-1", "B-2", "A-1", ""])

    assert route.call_count == 1
    request = route.calls.last.request
    assert request.url == f"{SHOP}{PATH}"
    assert request.headers["X-Shopify-Access-Token"] == "shpat_contract"
    body = sent(route.calls.last)
    assert "productVariants(first: $first, after: $after, query: $query)" in body["query"]
    assert "shop { currencyCode }" in body["query"]
    assert body["variables"] == {"first": 2, "after": None, "query": 'sku:"A-1" OR sku:"B-2"'}
    # A-10 matched the search loosely but was not asked for; B-2 is unknown: both absent.
    assert found == {
        "A-1": ProductRecord(
            sku="A-1",
            name="Product 7",
            description="About product 7",
            price=Money(Decimal("19.90"), "EUR"),
            image_urls=("https://cdn.test/p.jpg",),
            category="Shoes",
            external_refs=(ExternalRef(System.SHOPIFY, "gid://shopify/Product/7"),),
        )
    }


async def test_300_skus_are_two_requests_of_at_most_250(
    mocked: respx.MockRouter, shopify: ShopifyEcommerce
) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        query = json.loads(request.content)["variables"]["query"]
        skus = [term.split(":", 1)[1].strip('"') for term in query.split(" OR ")]
        return variants_answer([variant_node(sku) for sku in skus])

    route = mocked.post(PATH).mock(side_effect=reply)
    skus = [f"SKU-{n:04d}" for n in range(300)]
    found = await shopify.products_by_sku(skus)

    assert list(found) == skus
    assert route.call_count == 2
    firsts = [sent(call)["variables"]["first"] for call in route.calls]
    assert sum(firsts) == 300
    assert max(firsts) <= 250


async def test_products_by_sku_pages_on_while_skus_are_missing(
    mocked: respx.MockRouter, shopify: ShopifyEcommerce
) -> None:
    route = mocked.post(PATH).mock(
        side_effect=[
            variants_answer([variant_node("A-1")], next_cursor="c1"),
            variants_answer([variant_node("B-2")]),
        ]
    )
    found = await shopify.products_by_sku(["A-1", "B-2"])
    assert list(found) == ["A-1", "B-2"]
    assert [sent(call)["variables"]["after"] for call in route.calls] == [None, "c1"]


async def test_no_skus_no_request(mocked: respx.MockRouter, shopify: ShopifyEcommerce) -> None:
    route = mocked.post(PATH)
    assert await shopify.products_by_sku([]) == {}
    assert route.call_count == 0


# --- search_products ------------------------------------------------------------------------


def listing(nodes: list[dict[str, Any]], *, has_next: bool, end: str | None) -> httpx.Response:
    return answer(
        {
            "shop": {"currencyCode": "USD"},
            "products": {
                "edges": [{"node": node} for node in nodes],
                "pageInfo": {"hasNextPage": has_next, "endCursor": end},
            },
        }
    )


async def test_search_products_passes_words_cursor_and_capped_page_size(
    mocked: respx.MockRouter, shopify: ShopifyEcommerce
) -> None:
    """A page larger than Shopify's cost cap allows in one query is read in queries of 100,
    each after the last one's cursor, until it is full or Shopify has no more."""
    with_sku = {
        **product_node(1),
        "variants": {"edges": [{"node": {"sku": "S-1", "price": "5.00"}}]},
    }
    without = {
        **product_node(2, image=None),
        "variants": {"edges": [{"node": {"sku": None, "price": "1.00"}}]},
    }
    route = mocked.post(PATH).mock(
        side_effect=[
            listing([with_sku, without], has_next=True, end="cur-9"),
            listing([], has_next=False, end=None),
        ]
    )

    page = await shopify.search_products('red: (shirt) "OR" -x', 500, "cur-1")

    first, second = (sent(call)["variables"] for call in route.calls)
    assert first == {
        "first": 100,
        "after": "cur-1",
        "query": "status:active red shirt x",  # "OR" would have been syntax
        "sortKey": "RELEVANCE",
    }
    assert (second["first"], second["after"]) == (100, "cur-9")  # 499 still wanted
    assert [item.sku for item in page.items] == ["S-1"]
    assert page.items[0].price == Money(Decimal("5.00"), "USD")
    assert (page.end_cursor, page.has_next_page) == (None, False)


async def test_a_full_page_stops_asking(
    mocked: respx.MockRouter, shopify: ShopifyEcommerce
) -> None:
    nodes = [
        {**product_node(i), "variants": {"edges": [{"node": {"sku": f"S-{i}", "price": "1.00"}}]}}
        for i in range(1, 4)
    ]
    route = mocked.post(PATH).mock(return_value=listing(nodes, has_next=True, end="cur-3"))

    page = await shopify.search_products(None, 3, None)

    assert route.call_count == 1
    assert sent(route.calls.last)["variables"]["first"] == 3
    assert (len(page.items), page.end_cursor, page.has_next_page) == (3, "cur-3", True)


async def test_browsing_without_words_sorts_by_id(
    mocked: respx.MockRouter, shopify: ShopifyEcommerce
) -> None:
    route = mocked.post(PATH).mock(return_value=listing([], has_next=False, end=None))
    page = await shopify.search_products(None, 20, None)
    assert sent(route.calls.last)["variables"] == {
        "first": 20,
        "after": None,
        "query": "status:active",
        "sortKey": "ID",
    }
    assert (page.items, page.end_cursor, page.has_next_page) == ([], None, False)


# --- find_customers -------------------------------------------------------------------------


def customer_node(number: int, email: str | None, phone: str | None) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Customer/{number}",
        "firstName": "Ava",
        "lastName": "Chen",
        "defaultEmailAddress": {"emailAddress": email} if email else None,
        "defaultPhoneNumber": {"phoneNumber": phone} if phone else None,
        "createdAt": "2025-03-04T05:06:07Z",
        "updatedAt": "2025-04-04T05:06:07Z",
    }


async def test_find_customers_is_one_or_query_and_keeps_exact_matches(
    mocked: respx.MockRouter, shopify: ShopifyEcommerce
) -> None:
    nodes = [
        customer_node(1, "Ava.Chen@Example.com", None),
        customer_node(2, None, "+12125550001"),
        customer_node(3, "ava.chen.other@example.com", None),  # a fuzzy search hit
    ]
    route = mocked.post(PATH).mock(
        return_value=answer(
            {
                "customers": {
                    "edges": [{"node": n} for n in nodes],
                    "pageInfo": {"hasNextPage": False, "endCursor": None},
                }
            }
        )
    )
    found = await shopify.find_customers([" ava.chen@example.com "], ["+12125550001"])

    assert sent(route.calls.last)["variables"] == {
        "first": 10,
        "after": None,
        "query": 'email:"ava.chen@example.com" OR phone:"+12125550001"',
    }
    assert [person.ref for person in found] == [
        ExternalRef(System.SHOPIFY, "gid://shopify/Customer/1"),
        ExternalRef(System.SHOPIFY, "gid://shopify/Customer/2"),
    ]
    assert found[0].email == "Ava.Chen@Example.com"
    assert found[0].created_at == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert found[1].phone == "+12125550001"


async def test_find_customers_without_details_makes_no_request(
    mocked: respx.MockRouter, shopify: ShopifyEcommerce
) -> None:
    route = mocked.post(PATH)
    assert await shopify.find_customers(["", "  "], []) == []
    assert route.call_count == 0


# --- orders ---------------------------------------------------------------------------------


def order_node(number: int, created: str) -> dict[str, Any]:
    def bag(amount: str) -> dict[str, Any]:
        return {"shopMoney": {"amount": amount, "currencyCode": "USD"}}

    line = {"sku": "APP-1", "name": "Shirt", "quantity": 2, "originalUnitPriceSet": bag("10.50")}
    return {
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{number}",
        "createdAt": created,
        "displayFinancialStatus": "PAID",
        "totalPriceSet": bag("21.00"),
        "customer": {"id": "gid://shopify/Customer/42"},
        "lineItems": {"edges": [{"node": line}]},
    }


def orders_answer(count: int, *, has_next: bool) -> httpx.Response:
    nodes = [order_node(n, "2026-01-02T03:04:05Z") for n in range(count)]
    return answer(
        {
            "orders": {
                "edges": [{"node": n} for n in nodes],
                "pageInfo": {"hasNextPage": has_next, "endCursor": "next" if has_next else None},
            }
        }
    )


async def test_orders_filters_customers_and_time_newest_first_and_pages(
    mocked: respx.MockRouter, shopify: ShopifyEcommerce
) -> None:
    route = mocked.post(PATH).mock(
        side_effect=[orders_answer(25, has_next=True), orders_answer(5, has_next=True)]
    )
    query = OrderQuery(
        customer_ids=("gid://shopify/Customer/42", "43", "gid://shopify/Customer/42"),
        limit=30,
        created_before=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    records = await shopify.orders(query)

    assert len(records) == 30
    first, second = (sent(call) for call in route.calls)
    assert "sortKey: CREATED_AT, reverse: true" in first["query"]
    assert first["variables"] == {
        "first": 25,
        "after": None,
        # the online store's orders: the shop's store sales are the POS's
        "query": '(customer_id:"42" OR customer_id:"43") -source_name:pos '
        '-source_name:omnigate_store created_at:<="2026-01-02T03:04:05Z"',
    }
    assert (second["variables"]["first"], second["variables"]["after"]) == (5, "next")
    record = records[0]
    assert record.ref == ExternalRef(System.SHOPIFY, "gid://shopify/Order/0")
    assert record.channel is Channel.ONLINE
    assert record.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert record.total == Money(Decimal("21.00"), "USD")
    assert record.customer_ref == ExternalRef(System.SHOPIFY, "gid://shopify/Customer/42")
    assert (record.status, record.number) == ("PAID", "#0")
    unit = Money(Decimal("10.50"), "USD")
    assert record.lines == (OrderLine("APP-1", "Shirt", 2, unit, Money(Decimal("21.00"), "USD")),)


async def test_orders_for_nobody_makes_no_request(
    mocked: respx.MockRouter, shopify: ShopifyEcommerce
) -> None:
    route = mocked.post(PATH)
    assert await shopify.orders(OrderQuery(customer_ids=(), limit=10)) == []
    assert route.call_count == 0


# --- errors ---------------------------------------------------------------------------------

VENDOR_TEXT = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def graphql_errors(code: str, extensions: dict[str, Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {
        "errors": [{"message": f"vendor says {code}", "extensions": {"code": code}}]
    }
    if extensions is not None:
        body["extensions"] = extensions
    return httpx.Response(200, json=body)


THROTTLE_COST = {
    "cost": {
        "requestedQueryCost": 251,
        "actualQueryCost": None,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 243,
            "restoreRate": 100.0,
        },
    }
}


@pytest.mark.parametrize(
    ("response", "expected", "retry_after"),
    [
        (httpx.Response(401, json={"errors": VENDOR_TEXT}), UpstreamRejected, None),
        (httpx.Response(403, json={"errors": "needs read_products"}), UpstreamRejected, None),
        (httpx.Response(503, text="<html>busy</html>"), UpstreamUnavailable, None),
        (
            httpx.Response(429, headers={"Retry-After": "2.0"}, json={"errors": "slow"}),
            UpstreamThrottled,
            2.0,
        ),
        (graphql_errors("THROTTLED", THROTTLE_COST), UpstreamThrottled, pytest.approx(0.08)),
        (graphql_errors("THROTTLED"), UpstreamThrottled, None),
        (graphql_errors("MAX_COST_EXCEEDED"), UpstreamRejected, None),
        (graphql_errors("undefinedField"), UpstreamRejected, None),
        (graphql_errors("INTERNAL_SERVER_ERROR"), UpstreamUnavailable, None),
        (httpx.Response(200, text="<html>not json</html>"), UpstreamUnavailable, None),
        (httpx.Response(200, json=["not", "an", "object"]), UpstreamUnavailable, None),
        (httpx.Response(200, json={"data": None}), UpstreamUnavailable, None),
        (
            httpx.Response(200, json={"data": {"shop": {"currencyCode": "USD"}}}),
            UpstreamUnavailable,
            None,
        ),
    ],
)
async def test_every_failure_becomes_the_right_upstream_error(
    mocked: respx.MockRouter,
    shopify: ShopifyEcommerce,
    response: httpx.Response,
    expected: type[UpstreamError],
    retry_after: Any,
) -> None:
    mocked.post(PATH).mock(return_value=response)
    with pytest.raises(UpstreamError) as caught:
        await shopify.products_by_sku(["A-1"])
    error = caught.value
    assert type(error) is expected
    assert (error.service, error.operation) == ("shopify", "shopify.products_by_sku")
    assert getattr(error, "retry_after", None) == retry_after
    assert "vendor says" not in error.public_message
    assert "Invalid API key" not in error.public_message


async def test_a_refused_connection_is_unavailable(
    mocked: respx.MockRouter, shopify: ShopifyEcommerce
) -> None:
    mocked.post(PATH).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(UpstreamUnavailable) as caught:
        await shopify.orders(OrderQuery(customer_ids=("1",), limit=5))
    assert type(caught.value) is UpstreamUnavailable
    assert caught.value.operation == "shopify.orders"


def test_settings_default_to_the_sandbox() -> None:
    settings = ShopifySettings()
    assert settings.base_url == "http://127.0.0.1:8102"
    assert settings.access_token.get_secret_value() == "shpat_sandbox"
    assert settings.graphql_path == "/admin/api/2026-07/graphql.json"
    assert "shpat_sandbox" not in repr(settings)
