"""Products over the sandbox: one price source, stock per location, batching, pagination."""

from __future__ import annotations

from decimal import Decimal

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
