"""Products with their single price and their stock per store, and the stores, as every
vendor set must answer them: the same seeded catalog and shops, whoever serves them."""

from __future__ import annotations

from decimal import Decimal

from behaviour.retailer import STORES, Retailer

PRODUCT = """
query ($sku: ID!) {
  product(sku: $sku) {
    sku name price { amount currency }
    availability { online { quantity inStock } stores(first: 20) { store { name } quantity } }
  }
}
"""


async def test_a_product_has_the_single_price_and_its_stock_per_store(retailer: Retailer):
    dataset = retailer.dataset
    # a product with a stale price in the POS catalog, near the end (others buy the first)
    product = next(p for p in reversed(dataset.products) if p.pos_price != p.price)
    body = await retailer.client.query(PRODUCT, {"sku": product.sku})
    assert "errors" not in body, body
    found = body["data"]["product"]
    assert (found["sku"], found["name"]) == (product.sku, product.title)
    assert Decimal(found["price"]["amount"]) == product.price
    assert found["price"]["currency"] == "USD"
    stock = {
        location.name: dataset.inventory[(product.square_variation_id, location.id)]
        for location in dataset.stores
        if (product.square_variation_id, location.id) in dataset.inventory
    }
    availability = found["availability"]
    assert {row["store"]["name"]: row["quantity"] for row in availability["stores"]} == stock
    online = dataset.inventory.get((product.square_variation_id, dataset.warehouse.id), 0)
    assert availability["online"] == {"quantity": online, "inStock": online > 0}


async def test_an_unknown_sku_is_null_without_errors(retailer: Retailer):
    body = await retailer.client.query(PRODUCT, {"sku": "NOPE-000000"})
    assert body == {"data": {"product": None}}


async def test_the_stores_are_the_shops_by_name_never_the_warehouse(retailer: Retailer):
    stores = (await retailer.client.query(STORES))["data"]["stores"]
    names = [store["name"] for store in stores]
    assert names == sorted(location.name for location in retailer.dataset.stores)
    assert retailer.dataset.warehouse.name not in names


async def test_a_store_has_its_address_and_opening_hours(retailer: Retailer):
    location = retailer.dataset.stores[1]
    store_id = (await retailer.store_ids())[location.name]
    body = await retailer.client.query(
        "query ($id: ID!) { store(id: $id) { name address { line1 city region postalCode"
        " country } openingHours { day opens closes } } }",
        {"id": store_id},
    )
    assert body["data"]["store"] == {
        "name": location.name,
        "address": {
            "line1": location.address_line_1,
            "city": location.locality,
            "region": location.administrative_district_level_1,
            "postalCode": location.postal_code,
            "country": location.country,
        },
        "openingHours": []
        if retailer.vendor_set.excepts("store-hours-unknown")
        else [
            {"day": day, "opens": start[:5], "closes": end[:5]}
            for day, start, end in location.business_hours
        ],
    }
