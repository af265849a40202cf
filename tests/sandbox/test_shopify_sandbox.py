"""The real Shopify adapter against the real Shopify simulator, in process (no mocks).

Also the simulator's own contract: Shopify's auth refusal, cost arithmetic, leaky bucket,
caps and search syntax, since the adapter's behaviour is only as true as the simulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from graphql import FragmentDefinitionNode, build_schema, parse
from graphql.utilities import get_operation_ast
from pydantic import SecretStr

from connectors.errors import UpstreamRejected, UpstreamThrottled
from connectors.http import UpstreamHttp
from connectors.records import Channel, ExternalRef, OrderQuery, System
from connectors.shopify import ShopifyEcommerce, ShopifySettings
from sandbox.dataset import Dataset, build_dataset
from sandbox.shopify import create_app
from sandbox.shopify.cost import QueryCost
from sandbox.shopify.search import And, Not, Or, Term
from sandbox.shopify.search import parse as parse_search

BASE = "http://shop.test"
PATH = "/admin/api/2026-07/graphql.json"
TOKEN = {"X-Shopify-Access-Token": "shpat_sandbox"}


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(dataset: Dataset, clock: ManualClock) -> Any:
    return create_app(dataset, public_url=BASE, clock=clock)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


@pytest.fixture
def shopify(client: httpx.AsyncClient) -> ShopifyEcommerce:
    http = UpstreamHttp(client, service="shopify", base_url=BASE)
    return ShopifyEcommerce(http, ShopifySettings(base_url=BASE))


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post(PATH, json={"query": query, "variables": variables}, headers=TOKEN)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


TITLES_249 = "{ products(first: 249) { edges { node { title } } } }"  # 2 + 249 = 251 points


# --- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-Shopify-Access-Token": "shpat_wrong"}])
async def test_missing_or_wrong_token_gets_shopifys_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(PATH, json={"query": "{ shop { name } }"}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


async def test_adapter_with_a_wrong_token_is_rejected(client: httpx.AsyncClient) -> None:
    http = UpstreamHttp(client, service="shopify", base_url=BASE)
    settings = ShopifySettings(base_url=BASE, access_token=SecretStr("shpat_wrong"))
    with pytest.raises(UpstreamRejected) as caught:
        await ShopifyEcommerce(http, settings).products_by_sku(["APP-000001"])
    assert "Invalid API key" not in caught.value.public_message


# --- the adapter end to end -----------------------------------------------------------------


async def test_products_by_sku_reads_price_and_catalog_from_shopify(
    shopify: ShopifyEcommerce, dataset: Dataset, app: Any
) -> None:
    wanted = dataset.products[7:10]
    found = await shopify.products_by_sku([p.sku for p in wanted] + ["NOPE-1"])
    assert list(found) == [p.sku for p in wanted]
    for product in wanted:
        record = found[product.sku]
        assert record.price.amount == product.price  # Shopify's price, not the POS one
        assert record.price.currency == "USD"
        assert (record.name, record.description) == (product.title, product.description)
        assert record.category == product.category
        assert record.image_urls == product.image_urls[:1]
        ref = ExternalRef(System.SHOPIFY, f"gid://shopify/Product/{product.shopify_product_id}")
        assert record.external_refs == (ref,)
    assert app.state.calls["graphql shop,productVariants"] == 1


async def test_300_skus_take_two_requests(
    shopify: ShopifyEcommerce, dataset: Dataset, app: Any
) -> None:
    skus = [p.sku for p in dataset.products[:300]]
    found = await shopify.products_by_sku(skus)
    assert list(found) == skus
    assert app.state.calls["graphql shop,productVariants"] == 2


async def test_search_walks_every_product_exactly_once(
    shopify: ShopifyEcommerce, dataset: Dataset, clock: ManualClock
) -> None:
    seen: list[str] = []
    after, pages = None, 0
    while True:
        page = await shopify.search_products(None, 100, after)
        seen += [item.sku for item in page.items]
        pages += 1
        clock.advance(10)  # let the bucket refill: 603 points a page
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert sorted(seen) == sorted(p.sku for p in dataset.products)
    assert len(seen) == len(set(seen))
    assert pages == len(dataset.products) // 100


async def test_search_matches_free_text_words(shopify: ShopifyEcommerce, dataset: Dataset) -> None:
    page = await shopify.search_products("oak skillet", 100, None)
    expected = {
        p.sku
        for p in dataset.products
        if all(w in f"{p.title} {p.vendor} {p.category}".lower() for w in ("oak", "skillet"))
    }
    assert expected
    assert {item.sku for item in page.items} == expected


async def test_find_customers_by_email_any_case_and_by_phone(
    shopify: ShopifyEcommerce, dataset: Dataset
) -> None:
    typed = next(c for c in dataset.shop_customers if c.email and "@Example.com" in c.email)
    by_phone = next(c for c in dataset.shop_customers if c.phone and c.id != typed.id)
    assert typed.email is not None
    assert by_phone.phone is not None
    found = await shopify.find_customers([typed.email.lower()], [by_phone.phone])
    by_ref = {person.ref.id: person for person in found}
    assert set(by_ref) == {
        f"gid://shopify/Customer/{typed.id}",
        f"gid://shopify/Customer/{by_phone.id}",
    }
    person = by_ref[f"gid://shopify/Customer/{typed.id}"]
    assert person.email == typed.email  # as the customer typed it
    assert (person.given_name, person.family_name) == (typed.first_name, typed.last_name)
    assert person.created_at == typed.created_at
    assert await shopify.find_customers([], []) == []


def _orders_of(dataset: Dataset, customer_ids: set[int]) -> list[Any]:
    mine = [o for o in dataset.online_orders if o.customer_id in customer_ids]
    return sorted(mine, key=lambda o: (o.created_at, o.id), reverse=True)


async def test_orders_newest_first_with_an_inclusive_time_bound(
    shopify: ShopifyEcommerce, dataset: Dataset
) -> None:
    counts: dict[int, int] = {}
    for order in dataset.online_orders:
        counts[order.customer_id] = counts.get(order.customer_id, 0) + 1
    customer_id = next(c for c, n in counts.items() if n >= 3)
    expected = _orders_of(dataset, {customer_id})
    gid = f"gid://shopify/Customer/{customer_id}"

    records = await shopify.orders(OrderQuery(customer_ids=(gid,), limit=10))
    assert [r.ref.id for r in records] == [f"gid://shopify/Order/{o.id}" for o in expected]
    first = records[0]
    assert first.channel is Channel.ONLINE
    assert first.total.amount == expected[0].total
    assert first.customer_ref == ExternalRef(System.SHOPIFY, gid)
    assert [(line.sku, line.quantity) for line in first.lines] == [
        (li.sku, li.quantity) for li in expected[0].line_items
    ]
    assert sum((line.total.amount for line in first.lines), Decimal(0)) == expected[0].total

    bounded = await shopify.orders(
        OrderQuery(customer_ids=(gid,), limit=1, created_before=expected[1].created_at)
    )
    assert [r.ref.id for r in bounded] == [f"gid://shopify/Order/{expected[1].id}"]


async def test_orders_beyond_one_page_take_several_requests(
    shopify: ShopifyEcommerce, dataset: Dataset, app: Any
) -> None:
    customer_ids = {c.id for c in dataset.shop_customers[:40]}
    expected = _orders_of(dataset, customer_ids)
    assert len(expected) > 60
    gids = tuple(f"gid://shopify/Customer/{c}" for c in sorted(customer_ids))
    records = await shopify.orders(OrderQuery(customer_ids=gids, limit=60))
    assert [r.ref.id for r in records] == [f"gid://shopify/Order/{o.id}" for o in expected[:60]]
    assert app.state.calls["graphql orders"] == 3  # 25 + 25 + 10 under the cost cap


# --- cost and throttling ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "requested", "actual"),
    [
        ("{ shop { currencyCode } }", 1, 1),
        (
            "{ products(first: 10) { edges { cursor node { title } } pageInfo { hasNextPage } } }",
            12,
            12,
        ),
        (
            '{ products(first: 10, query: "sku:APP-000001 OR sku:SHO-000002") { nodes { id } } }',
            12,
            4,
        ),
        (
            "{ products(first: 5) { edges { node { variants(first: 3) { nodes { sku } } } } } }",
            32,
            22,
        ),
        (
            '{ node(id: "gid://shopify/Product/8100000000") { id '
            "... on Product { featuredMedia { ... on MediaImage { image { url } } } } } }",
            3,
            3,
        ),
        (
            '{ nodes(ids: ["gid://shopify/Product/8100000000", "gid://shopify/Nope/1"]) { id } }',
            2,
            2,
        ),
    ],
)
async def test_cost_extension_follows_shopifys_arithmetic(
    client: httpx.AsyncClient, query: str, requested: int, actual: int
) -> None:
    body = await gql(client, query)
    assert "errors" not in body
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 2000 - actual,
            "restoreRate": 100.0,
        },
    }


def test_a_mutation_field_costs_ten() -> None:
    schema = build_schema(
        "type Query { a: Int } type Mutation { tagsAdd: Payload } type Payload { node: Obj }"
        " type Obj { id: ID }"
    )
    document = parse("mutation { tagsAdd { node { id } } }")
    operation = get_operation_ast(document)
    assert operation is not None
    fragments: dict[str, FragmentDefinitionNode] = {}
    assert QueryCost(schema, operation, fragments, {}).requested() == 10 + 1


async def test_a_burst_empties_the_bucket_and_the_clock_refills_it(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    for _ in range(7):
        assert "errors" not in await gql(client, TITLES_249)
    throttled = await gql(client, TITLES_249)  # 2000 - 7 x 251 = 243 left, 251 needed
    assert "data" not in throttled
    assert throttled["errors"][0]["message"] == "Throttled"
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"] == {
        "requestedQueryCost": 251,
        "actualQueryCost": None,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 243,
            "restoreRate": 100.0,
        },
    }
    clock.advance(0.08)  # 8 points at 100/s
    assert "errors" not in await gql(client, TITLES_249)


async def test_adapter_reports_throttling_with_the_wait_the_bucket_needs(
    client: httpx.AsyncClient, shopify: ShopifyEcommerce
) -> None:
    while "errors" not in await gql(client, TITLES_249):
        pass
    await gql(client, "{ products(first: 239) { nodes { id } } }")  # 243 - 241 = 2 left
    with pytest.raises(UpstreamThrottled) as caught:
        await shopify.products_by_sku(["APP-000001"])  # asks for 1 + 2 + 1 x 4 = 7 points
    assert caught.value.retry_after == pytest.approx(0.05)


async def test_a_query_above_the_single_query_cap_is_refused_uncharged(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(
        client, "{ products(first: 250) { nodes { variants(first: 250) { nodes { sku } } } } }"
    )
    cost = 2 + 250 * (1 + 2 + 250)
    assert "data" not in body
    error = body["errors"][0]
    assert error["message"].startswith(
        f"Query cost is {cost}, which exceeds the single query max cost limit (1000)."
    )
    assert error["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": 1000}
    status = (await gql(client, "{ shop { name } }"))["extensions"]["cost"]["throttleStatus"]
    assert status["currentlyAvailable"] == 1999


async def test_nodes_takes_at_most_250_ids(client: httpx.AsyncClient, dataset: Dataset) -> None:
    ids = [f"gid://shopify/Product/{p.shopify_product_id}" for p in dataset.products[:251]]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    refused = await gql(client, query, ids=ids)
    assert "data" not in refused
    assert refused["errors"][0]["message"] == (
        "The input array size of 251 is greater than the maximum allowed of 250."
    )
    assert refused["errors"][0]["extensions"] == {"code": "MAX_INPUT_SIZE_EXCEEDED"}
    served = await gql(client, query, ids=ids[:250])
    assert [node["id"] for node in served["data"]["nodes"]] == ids[:250]


async def test_a_connection_without_first_or_last_is_refused(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ products { nodes { id } } }")
    assert body["data"] is None
    assert body["errors"][0]["message"] == "you must provide one of first or last"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 2


async def test_each_query_is_counted_by_its_root_fields(
    client: httpx.AsyncClient, app: Any
) -> None:
    await gql(client, "{ shop { name } products(first: 1) { nodes { id } } }")
    await gql(client, "query Named { customers(first: 1) { nodes { id } } }")
    assert app.state.calls["graphql shop,products"] == 1
    assert app.state.calls["graphql customers"] == 1


async def test_unknown_fields_are_refused_in_shopifys_words(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ shop { nope } }")
    assert body["errors"][0]["message"] == "Field 'nope' doesn't exist on type 'Shop'"
    assert body["errors"][0]["extensions"]["code"] == "undefinedField"


# --- search syntax ---------------------------------------------------------------------------


def test_search_grammar() -> None:
    assert parse_search("") is None
    assert parse_search("title:'a b' OR -sku:X") == Or(
        (Term("title", ":", "a b"), Not(Term("sku", ":", "X")))
    )
    assert parse_search('red (a:1 OR b:2) NOT c:<="x \\" y"') == And(
        (
            Term(None, ":", "red"),
            Or((Term("a", ":", "1"), Term("b", ":", "2"))),
            Not(Term("c", ":<=", 'x " y')),
        )
    )
    assert parse_search("a AND b OR c") == Or(
        (And((Term(None, ":", "a"), Term(None, ":", "b"))), Term(None, ":", "c"))
    )
    assert parse_search('broken "quote') == And(
        (Term(None, ":", "broken"), Term(None, ":", "quote"))
    )


def _products(app: Any, query: str) -> set[str]:
    return {row.product.sku for row in app.state.shop.products.select(query, "ID", False)}


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("title:linen", lambda p: "linen" in p.title.lower()),
        ('vendor:"Trailhead Co."', lambda p: p.vendor == "Trailhead Co."),
        (
            "product_type:Shoes OR product_type:Kitchen",
            lambda p: p.category in ("Shoes", "Kitchen"),
        ),
        (
            "(product_type:Shoes OR product_type:Kitchen) -vendor:Northfield",
            lambda p: p.category in ("Shoes", "Kitchen") and p.vendor != "Northfield",
        ),
        (
            "NOT product_type:Shoes AND title:oak",
            lambda p: p.category != "Shoes" and "oak" in p.title.lower(),
        ),
        ("sku:app-000001 OR sku:KIT-000004", lambda p: p.sku in ("APP-000001", "KIT-000004")),
        ("sku:APP-00001*", lambda p: p.sku.startswith("APP-00001")),
        (
            "created_at:<='2025-06-01T00:00:00Z'",
            lambda p: p.created_at <= datetime.fromisoformat("2025-06-01T00:00:00+00:00"),
        ),
        (
            "created_at:>2025-06-01",
            lambda p: p.created_at > datetime.fromisoformat("2025-06-01T00:00:00+00:00"),
        ),
        (
            "'Omni Basics' Sweater",
            lambda p: p.vendor == "Omni Basics" and "sweater" in p.title.lower(),
        ),
        ("colour:blue", lambda p: True),  # Shopify ignores filters it does not support
    ],
)
def test_product_search_syntax(app: Any, dataset: Dataset, query: str, keep: Any) -> None:
    expected = {p.sku for p in dataset.products if keep(p)}
    assert expected
    assert _products(app, query) == expected


def test_customer_and_order_filters(app: Any, dataset: Dataset) -> None:
    shop = app.state.shop
    someone = next(c for c in dataset.shop_customers if c.email and c.phone)
    assert someone.email is not None
    assert someone.phone is not None
    by_email = shop.customers.select(f'email:"{someone.email.upper()}"', "ID", False)
    assert [row.id for row in by_email] == [someone.id]
    by_phone = shop.customers.select(f"phone:'{someone.phone}'", "ID", False)
    assert [row.id for row in by_phone] == [someone.id]

    cutoff = "2026-01-01T00:00:00Z"
    orders = shop.orders.select(
        f"customer_id:{someone.id} created_at:<'{cutoff}'", "CREATED_AT", True
    )
    moment = datetime.fromisoformat(cutoff)
    expected = [o for o in _orders_of(dataset, {someone.id}) if o.created_at < moment]
    assert [row.id for row in orders] == [o.id for o in expected]


# --- test-only control ------------------------------------------------------------------------


async def test_a_price_changes_as_a_merchant_would_change_it_in_the_admin(
    app: Any, client: httpx.AsyncClient, shopify: ShopifyEcommerce, dataset: Dataset
) -> None:
    sku = dataset.products[0].sku
    before = (await shopify.products_by_sku([sku]))[sku].price.amount
    answer = await client.post(f"/_sandbox/shopify/variants/{sku}/price", json={"price": "12.34"})
    assert (answer.status_code, answer.json()) == (
        200,
        {"sku": sku, "price": "12.34", "deliveries": []},
    )
    assert before != Decimal("12.34")
    assert (await shopify.products_by_sku([sku]))[sku].price.amount == Decimal("12.34")
    for body in ({"price": "-1"}, {"price": 3}, {"price": "NaN"}, {}):
        refused = await client.post(f"/_sandbox/shopify/variants/{sku}/price", json=body)
        assert refused.status_code == 400
    unknown = await client.post("/_sandbox/shopify/variants/NOPE-1/price", json={"price": "1"})
    assert unknown.status_code == 404
    assert not any(call.startswith("POST /_sandbox/") for call in app.state.calls)
