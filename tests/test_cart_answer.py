"""An add written at once brings its cart's lines back only when the answer shows them or
what they make (resolvers/cart_selection.py): every selection still answers right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cart_api import CART_CREATE, Device, online_skus
from pymongo import AsyncMongoClient

from commerce.cart.model import CartLimits, NewLine, UnreadLines
from commerce.cart.store import CartStore
from connectors.records import Money
from sandbox.dataset import Dataset


@pytest.fixture
def device(gateway, tokens, dataset: Dataset) -> Device:
    token = tokens.customer(dataset.crm_contacts[9].id)
    return Device(gateway, {"authorization": f"Bearer {token}"})


def add(cart: str, fragments: str = "") -> str:
    return f"""mutation ($cartId: ID!, $sku: ID!) {{
  cartLinesAdd(cartId: $cartId, lines: [{{sku: $sku, quantity: 1}}]) {{ {cart} }}
}}
{fragments}"""


# (the payload's selection, fragments, what the answer's cart is read for)
SELECTIONS = [
    ("cart { version status fulfillment { type } loyaltyPoints { points } }", "", "lineless"),
    ("cart { version totalQuantity }", "", "totalQuantity"),
    ("cart { ...Lines }", "fragment Lines on Cart { lines { sku quantity } }", "lines"),
    ("... on CartPayload { cart { ... on Cart { totalQuantity } } }", "", "totalQuantity"),
    ("a: cart { version } b: cart { cost { subtotal { amount } } }", "", "cost"),
    ("cart { version lines @skip(if: true) { sku } totalQuantity @include(if: false) }", "", ""),
]


@pytest.mark.parametrize(("selection", "fragments", "shows"), SELECTIONS)
async def test_an_add_written_at_once_answers_every_selection(
    device, dataset, selection, fragments, shows
):
    sku = online_skus(dataset)[0]
    created = (await device.run(CART_CREATE, lines=[{"sku": sku, "quantity": 1}]))["cartCreate"]
    cart_id = created["cart"]["id"]
    document = add(selection, fragments)
    await device.run(document, cartId=cart_id, sku=sku)  # written at once from here on
    answer = (await device.run(document, cartId=cart_id, sku=sku))["cartLinesAdd"]
    # the customer's cart holds 3 units now (a cart left by an earlier case is reused)
    if shows == "lineless":
        assert answer["cart"]["status"] == "OPEN"
        assert answer["cart"]["fulfillment"] == {"type": "DELIVERY"}
    elif shows == "totalQuantity":
        assert answer["cart"]["totalQuantity"] >= 3
    elif shows == "lines":
        assert [line["sku"] for line in answer["cart"]["lines"]][-1:] == [sku]
    elif shows == "cost":
        unit = dataset.products_by_sku[sku].price
        assert Decimal(answer["b"]["cost"]["subtotal"]["amount"]) >= 3 * unit
    else:
        assert set(answer["cart"]) == {"version"}


async def test_the_store_answers_without_lines_when_asked_and_keeps_them(settings):
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(), tz_aware=True
    )
    try:
        store = CartStore(
            client[settings.mongodb_database], CartLimits(100, 999), timedelta(days=1)
        )
        cart = await store.create_for_customer(f"answer_{datetime.now(UTC).timestamp()}")
        line = NewLine("SKU-A", 2, Money(Decimal("3.50"), "USD"))
        written = await store.add_lines(cart.id, [line], cart.version, answer_lines=False)
        assert written is not None
        assert written.version == cart.version + 1
        assert isinstance(written.lines, UnreadLines)
        with pytest.raises(RuntimeError, match="without its lines"):
            written.quantity_of("SKU-A")
        again = await store.add_lines(cart.id, [line], written.version)
        assert again is not None
        assert [(each.sku, each.quantity) for each in again.lines] == [("SKU-A", 4)]
    finally:
        await client.close()
