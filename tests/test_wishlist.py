"""The wishlist: per customer, visible on every channel, moved to the cart atomically."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cart_api import CART, Device, codes, online_skus

from sandbox.dataset import Dataset

ITEMS = "wishlist { items { sku addedAt product { sku price { amount currency } "
ITEMS += "availability { online { quantity } } } } }"
WISHLIST = f"query {{ {ITEMS} }}"
ADD = f"mutation ($sku: ID!) {{ wishlistAdd(sku: $sku) {{ {ITEMS} userErrors {{ code field }} }} }}"
REMOVE = f"mutation ($sku: ID!) {{ wishlistRemove(sku: $sku) {{ {ITEMS} userErrors {{ code }} }} }}"
MOVE = f"""
mutation ($sku: ID!, $quantity: Int!) {{
  wishlistMoveToCart(sku: $sku, quantity: $quantity) {{
    {ITEMS} cart {{ id lines {{ sku quantity }} }} userErrors {{ code field }}
  }}
}}
"""


@pytest.fixture
def customer(gateway, tokens, dataset: Dataset):
    token = tokens.customer(dataset.crm_contacts[21].id)
    return lambda: Device(gateway, {"authorization": f"Bearer {token}"})


async def test_items_added_on_one_channel_show_on_another_with_price_and_stock(customer, dataset):
    web, app = customer(), customer()
    a, b = online_skus(dataset, count=2)
    await web.run(ADD, sku=a)
    await web.run(ADD, sku=b)
    await app.run(ADD, sku=a)  # listed once
    items = (await app.run(WISHLIST))["wishlist"]["items"]
    assert [item["sku"] for item in items] == [a, b]
    product = items[0]["product"]
    assert Decimal(product["price"]["amount"]) == dataset.products_by_sku[a].price
    assert product["availability"]["online"]["quantity"] > 0

    removed = (await app.run(REMOVE, sku=a))["wishlistRemove"]
    assert [item["sku"] for item in removed["wishlist"]["items"]] == [b]
    again = (await app.run(REMOVE, sku=a))["wishlistRemove"]
    assert codes(again) == ["NOT_IN_WISHLIST"]


async def test_an_unknown_sku_is_refused(customer):
    refused = (await customer().run(ADD, sku="NO-SUCH-SKU"))["wishlistAdd"]
    assert refused["userErrors"] == [{"code": "PRODUCT_NOT_FOUND", "field": ["sku"]}]
    assert refused["wishlist"]["items"] == []


async def test_moving_to_the_cart_takes_it_off_the_wishlist(customer, dataset):
    device = customer()
    a, b = online_skus(dataset, count=2)
    await device.run(ADD, sku=a)
    await device.run(ADD, sku=b)
    moved = (await device.run(MOVE, sku=a, quantity=2))["wishlistMoveToCart"]
    assert moved["userErrors"] == []
    assert [item["sku"] for item in moved["wishlist"]["items"]] == [b]
    assert moved["cart"]["lines"] == [{"sku": a, "quantity": 2}]
    assert (await customer().run(CART))["cart"]["lines"][0]["sku"] == a


async def test_a_refused_move_leaves_both_as_they_were(customer, dataset):
    device = customer()
    sku = online_skus(dataset)[0]
    await device.run(ADD, sku=sku)
    refused = (await device.run(MOVE, sku=sku, quantity=100_000))["wishlistMoveToCart"]
    assert codes(refused) == ["INVALID_QUANTITY"]
    assert [item["sku"] for item in refused["wishlist"]["items"]] == [sku]
    assert refused["cart"]["lines"] == []


async def test_a_wishlist_needs_a_signed_in_customer(gateway):
    anonymous = Device(gateway, {})
    assert (await anonymous.run(WISHLIST))["wishlist"] is None
    refused = (await anonymous.run(ADD, sku="ANY"))["wishlistAdd"]
    assert codes(refused) == ["UNAUTHENTICATED"]
