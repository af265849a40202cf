"""Products over the sandbox: one price source, stock per location, batching, pagination."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from fault_proxy import Fault, FaultProxy

from commerce.recent_catalog import RecentCatalog
from connectors.errors import UpstreamUnavailable
from connectors.records import StockLevel
from engine.loaders import ProductBySkuLoader, StockBySkuLoader
from sandbox.dataset import Dataset

PRODUCT = """
query ($sku: ID!) {
  product(sku: $sku) {
    sku name category images { url }
    price { amount currency }
    externalRefs { system id }
    availability {
      online { quantity inStock }
      stores(first: 20) { store { id name } quantity }
    }
  }
}
"""

TWENTY_WITH_STOCK = """
{
  products(first: 20) {
    edges { node {
      sku name price { amount currency }
      availability { online { quantity } stores(first: 5) { store { id name } quantity } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

INVENTORY_CALL = "POST /v2/inventory/counts/batch-retrieve"


def _shopify_requests(sandbox) -> int:
    return sum(n for key, n in sandbox.calls("shopify").items() if key.startswith("POST "))


async def test_product_price_comes_from_the_single_price_source(gateway, dataset: Dataset):
    # one SKU in twenty has a stale price in the Square catalog; the answer must not show it
    product = next(p for p in dataset.products if p.pos_price != p.price)
    body = await gateway.query(PRODUCT, {"sku": product.sku})
    assert "errors" not in body
    data = body["data"]["product"]
    assert data["sku"] == product.sku
    assert data["name"] == product.title
    assert Decimal(data["price"]["amount"]) == product.price
    assert data["price"]["currency"] == "USD"
    assert {"system": "SHOPIFY", "id": f"gid://shopify/Product/{product.shopify_product_id}"} in (
        data["externalRefs"]
    )


async def test_availability_matches_the_inventory_counts(gateway, dataset: Dataset):
    product = dataset.products[3]
    body = await gateway.query(PRODUCT, {"sku": product.sku})
    availability = body["data"]["product"]["availability"]
    warehouse = dataset.warehouse
    assert availability["online"]["quantity"] == dataset.inventory.get(
        (product.square_variation_id, warehouse.id), 0
    )
    expected = {
        store.id: dataset.inventory[(product.square_variation_id, store.id)]
        for store in dataset.stores
        if (product.square_variation_id, store.id) in dataset.inventory
    }
    got = {row["store"]["id"]: row["quantity"] for row in availability["stores"]}
    assert got == expected
    quantities = [row["quantity"] for row in availability["stores"]]
    assert quantities == sorted(quantities, reverse=True)


async def test_unknown_sku_is_null_without_errors(gateway):
    body = await gateway.query(PRODUCT, {"sku": "NOPE-000000"})
    assert body == {"data": {"product": None}}


async def test_twenty_products_with_stock_make_one_call_per_upstream_endpoint(gateway, sandbox):
    first = await gateway.query(TWENTY_WITH_STOCK)
    assert "errors" not in first
    assert len(first["data"]["products"]["edges"]) == 20
    assert _shopify_requests(sandbox) == 1
    square = sandbox.calls("square")
    assert square[INVENTORY_CALL] == 1
    # first use of these SKUs: one catalog lookup maps them to Square variation ids
    assert square.get("POST /v2/catalog/search", 0) <= 1
    assert square.get("GET /v2/locations", 0) == 1

    sandbox.reset_calls()
    again = await gateway.query(TWENTY_WITH_STOCK)
    assert again == first
    assert _shopify_requests(sandbox) == 1
    assert sandbox.calls("square") == {INVENTORY_CALL: 1}  # mapping and stores are cached
    assert sandbox.total_calls("salesforce") == 0


async def test_products_pages_walk_the_whole_catalog_once(gateway, dataset: Dataset):
    seen: list[str] = []
    after = None
    while True:
        body = await gateway.query(
            "query ($after: String) { products(first: 100, after: $after) {"
            " edges { node { sku } } pageInfo { hasNextPage endCursor } } }",
            {"after": after},
        )
        page = body["data"]["products"]
        seen += [edge["node"]["sku"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == len(dataset.products)


async def test_any_edge_cursor_resumes_right_after_that_edge(gateway):
    query = (
        "query ($after: String) { products(first: 10, after: $after) {"
        " edges { cursor node { sku } } } }"
    )
    first = (await gateway.query(query))["data"]["products"]["edges"]
    resumed = (await gateway.query(query, {"after": first[3]["cursor"]}))["data"]["products"]
    skus = [edge["node"]["sku"] for edge in resumed["edges"]]
    assert skus[:6] == [edge["node"]["sku"] for edge in first[4:]]
    assert len(skus) == 10


async def test_search_narrows_the_catalog(gateway, dataset: Dataset):
    product = dataset.products[10]
    body = await gateway.query(
        "query ($q: String) { products(query: $q, first: 100) {"
        " edges { node { sku name } } pageInfo { hasNextPage } } }",
        {"q": product.title},
    )
    found = body["data"]["products"]
    assert product.sku in [e["node"]["sku"] for e in found["edges"]]
    assert not found["pageInfo"]["hasNextPage"]  # a handful, not the catalog


async def test_a_failed_stock_read_nulls_each_availability_of_the_page_at_its_path(
    settings, sandbox, make_gateway
):
    proxy = FaultProxy(sandbox.url("square"))
    async with proxy, make_gateway(settings.with_changes(square={"base_url": proxy.url})) as gw:
        assert "errors" not in await gw.query(TWENTY_WITH_STOCK)  # stores cached now
        proxy.set(Fault.HTTP_500)
        body = await gw.query(TWENTY_WITH_STOCK.replace("first: 20", "first: 3"))
    nodes = [edge["node"] for edge in body["data"]["products"]["edges"]]
    assert len(nodes) == 3
    assert all(node["name"] and node["availability"] is None for node in nodes)
    assert [error["path"] for error in body["errors"]] == [
        ["products", "edges", index, "node", "availability"] for index in range(3)
    ]
    assert {error["extensions"]["code"] for error in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}


async def test_availability_left_out_by_a_directive_costs_no_stock_read(gateway, sandbox):
    query = TWENTY_WITH_STOCK.replace("availability {", "availability @skip(if: true) {")
    body = await gateway.query(query)
    assert "errors" not in body
    assert all("availability" not in edge["node"] for edge in body["data"]["products"]["edges"])
    assert INVENTORY_CALL not in sandbox.calls("square")


async def test_availability_through_nodes_and_included_by_variable_reads_stock_once(
    gateway, sandbox
):
    query = """query ($with: Boolean!) { products(first: 5) {
      nodes { sku availability @include(if: $with) { online { quantity inStock } } }
    } }"""
    body = await gateway.query(query, {"with": True})
    assert "errors" not in body
    assert all(node["availability"] is not None for node in body["data"]["products"]["nodes"])
    assert sandbox.calls("square")[INVENTORY_CALL] == 1


async def test_a_page_of_stock_is_cached_like_single_loads():
    calls: list[list[str]] = []

    async def stock(skus):
        calls.append(list(skus))
        if "BROKEN" in skus:
            raise UpstreamUnavailable("square", "square.inventory", "down")
        return [StockLevel(sku, "L1", 2) for sku in skus]

    recent = RecentCatalog(ttl_seconds=60, max_skus=10)
    services = SimpleNamespace(inventory=SimpleNamespace(stock=stock), recent_catalog=recent)
    loader = StockBySkuLoader(services)
    assert await loader.load("A") == [StockLevel("A", "L1", 2)]
    page = await loader.load_page(["A", "B", "B", "C"])
    assert page == [[StockLevel(s, "L1", 2)] for s in ("A", "B", "B", "C")]
    assert calls == [["A"], ["B", "C"]]  # A was known, B asked once
    assert await loader.load_many(["C", "B"]) == [page[3], page[1]]
    with pytest.raises(UpstreamUnavailable):
        await loader.load_page(["D", "BROKEN"])
    with pytest.raises(UpstreamUnavailable):
        await loader.load("D")  # the failure is remembered as a failed batch would be
    assert calls == [["A"], ["B", "C"], ["D", "BROKEN"]]
    # what the inventory answered is kept for a cart add to fall back on; a failure is not
    assert recent.stock(["A", "B", "C"]) == [[StockLevel(s, "L1", 2)] for s in "ABC"]
    assert recent.stock(["D"]) is None


async def test_answers_put_by_a_page_serve_later_loads_and_settle_waiting_ones():
    """`put_answers` (a catalog search's products) keeps values without futures, yet a
    later load is answered from them without a call, an answer already there is kept, and
    a load queued in the same turn is settled by them as `prime_many` would."""
    calls: list[list[str]] = []

    async def products_by_sku(skus):
        calls.append(list(skus))
        return {sku: f"fetched {sku}" for sku in skus}

    recent = SimpleNamespace(remember_products=lambda records: None)
    services = SimpleNamespace(
        ecommerce=SimpleNamespace(products_by_sku=products_by_sku), recent_catalog=recent
    )
    loader = ProductBySkuLoader(services)
    assert await loader.load("A") == "fetched A"
    loader.put_answers({"A": "page A", "B": "page B"})
    assert await loader.load_many(["A", "B"]) == ["fetched A", "page B"]
    assert await loader.load_page(["B", "C"]) == ["page B", "fetched C"]
    assert calls == [["A"], ["C"]]
    waiting = loader.load("D")  # queued for the next turn of the loop
    loader.put_answers({"D": "page D"})
    assert await waiting == "page D"
    assert calls == [["A"], ["C"]]


async def test_every_upstream_transport_gives_the_same_page(settings, sandbox, make_gateway):
    """`http.transport` picks what the gateway's client sends over; connectors send straight
    to it (connectors/http.py), so aiohttp and httpx's own pool must serve that path as the
    default does."""
    answers = {}
    for transport in ("http1", "aiohttp", "httpx"):
        chosen = settings.model_copy(
            update={"http": settings.http.model_copy(update={"transport": transport})}
        )
        async with make_gateway(chosen) as gateway:
            answers[transport] = await gateway.query(TWENTY_WITH_STOCK)
    assert "errors" not in answers["http1"]
    assert answers["aiohttp"] == answers["http1"]
    assert answers["httpx"] == answers["http1"]


async def test_the_page_size_setting_bounds_a_connection(make_gateway, settings, sandbox):
    """`max_page_size` is the connection's limit: refused above it, answered up to it, in
    as many Shopify queries of 100 as it takes (one more would pass Shopify's cost cap)."""
    query = "query ($n: Int!) { products(first: $n) { edges { node { sku } } } }"
    async with make_gateway(settings.model_copy(update={"max_page_size": 150})) as gateway:
        sandbox.reset_calls()
        answered = await gateway.query(query, {"n": 150})
        skus = [edge["node"]["sku"] for edge in answered["data"]["products"]["edges"]]
        assert len(set(skus)) == 150
        assert _shopify_requests(sandbox) == 2
        refused = await gateway.query(query, {"n": 151})
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
