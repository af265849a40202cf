"""`order(id:)` / `order(number:)`: one order, online or in store, for its owner and for
staff, read from the system holding it (Shopify for web orders, Square for store orders),
against the sandbox and a real mongod. docs/orders.md describes what each test holds."""

from __future__ import annotations

from typing import Any

import pytest
from cart_api import CART_CREATE, CHECKOUT, SET_FULFILLMENT, Device, known_everywhere, staff_at
from cart_api import stocked_skus as skus_at
from payments_api import pay_at_terminal
from test_payments import services_of

from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset

ORDER = """
query ($id: ID, $number: String) {
  order(id: $id, number: $number) {
    id number channel status paymentStatus fulfillmentStatus pickupStatus
    total { amount currency }
    lines { sku quantity unitPrice { amount } total { amount } }
    store { id }
    externalRef { system id }
  }
}
"""


@pytest.fixture(scope="module")
def people(dataset: Dataset) -> list[str]:
    found = known_everywhere(dataset)
    return found[-4:]  # the last ones: no other test counts their orders


def shopper(gateway, tokens, contact: str) -> Device:
    return Device(gateway, {"authorization": f"Bearer {tokens.customer(contact)}"})


async def web_order(device: Device, dataset: Dataset, key: str) -> dict[str, Any]:
    skus = skus_at(dataset, WAREHOUSE_LOCATION_ID, 20, 2)
    lines = [{"sku": sku, "quantity": 1 + i} for i, sku in enumerate(skus)]
    cart = (await device.run(CART_CREATE, lines=lines))["cartCreate"]["cart"]
    placed = (await device.run(CHECKOUT, cartId=cart["id"], channel="WEB", key=key))["checkout"]
    assert placed["userErrors"] == []
    return dict(placed["order"])


def errors(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["extensions"]["code"], e["message"]) for e in body["errors"]]


async def test_the_owner_finds_a_web_order_by_id_and_by_number(gateway, tokens, dataset, people):
    owner = shopper(gateway, tokens, people[0])
    placed = await web_order(owner, dataset, "orders-web-1")
    by_id = (await owner.run(ORDER, id=placed["id"]))["order"]
    assert by_id["id"] == placed["id"]
    assert by_id["channel"] == "ONLINE"
    assert by_id["externalRef"]["system"] == "SHOPIFY"
    assert (by_id["paymentStatus"], by_id["fulfillmentStatus"]) == ("PAID", "UNFULFILLED")
    assert by_id["total"] == placed["total"]
    assert [(line["sku"], line["quantity"]) for line in by_id["lines"]] == [
        (line["sku"], line["quantity"]) for line in placed["lines"]
    ]
    assert by_id["number"].startswith("#")
    by_number = (await owner.run(ORDER, number=by_id["number"]))["order"]
    assert by_number == by_id
    without_hash = (await owner.run(ORDER, number=by_id["number"].lstrip("#")))["order"]
    assert without_hash == by_id


async def test_another_customers_order_is_not_found_like_one_that_does_not_exist(
    gateway, tokens, dataset, people
):
    owner = shopper(gateway, tokens, people[1])
    placed = await web_order(owner, dataset, "orders-web-2")
    number = (await owner.run(ORDER, id=placed["id"]))["order"]["number"]
    other = shopper(gateway, tokens, people[2])
    theirs = await other.raw(ORDER, id=placed["id"])
    missing = await other.raw(ORDER, id="gid://shopify/Order/987654321")
    missing_square = await other.raw(ORDER, id="NO-SUCH-SQUARE-ORDER")
    by_number = await other.raw(ORDER, number=number)
    assert theirs["data"] == {"order": None}
    assert errors(theirs) == errors(missing) == errors(missing_square) == errors(by_number)
    assert errors(theirs) == [("NOT_FOUND", "No order has this id or number.")]


async def test_staff_find_any_order_and_every_look_up_is_audited(gateway, tokens, dataset, people):
    owner = shopper(gateway, tokens, people[3])
    placed = await web_order(owner, dataset, "orders-web-3")
    store = dataset.stores[1].id
    staff = staff_at(gateway, tokens, store, "staff-orders")
    found = (await staff.run(ORDER, id=placed["id"]))["order"]
    assert found["id"] == placed["id"]
    missing = await staff.raw(ORDER, number="#99999999")
    assert errors(missing) == [("NOT_FOUND", "No order has this id or number.")]
    services = services_of(gateway)
    audit = services.mongo[services.settings.mongodb_database]["audit_log"]
    entries = (
        await audit.find({"action": "order.read", "actor.id": "staff-orders"}).sort("at").to_list()
    )
    assert [(e["order"], e["actor"]["store_id"]) for e in entries] == [
        ({"id": placed["id"], "number": None}, store),
        ({"id": None, "number": "#99999999"}, store),
    ]


async def test_a_store_pickup_order_shows_its_store_and_becomes_paid_at_the_terminal(
    gateway, tokens, dataset, people, sandbox
):
    owner = shopper(gateway, tokens, people[0])
    store = dataset.stores[3].id
    sku = skus_at(dataset, store, 5, 1)[0]
    cart = (await owner.run(CART_CREATE, lines=[{"sku": sku, "quantity": 2}]))["cartCreate"]
    picked = await owner.run(
        SET_FULFILLMENT, cartId=cart["cart"]["id"], type="PICKUP", storeId=store
    )
    assert picked["cartSetFulfillment"]["userErrors"] == []
    till = staff_at(gateway, tokens, store)
    placed = (
        await till.run(CHECKOUT, cartId=cart["cart"]["id"], channel="STORE", key="orders-till-1")
    )["checkout"]["order"]
    found = (await owner.run(ORDER, id=placed["id"]))["order"]
    assert found["channel"] == "STORE"
    assert found["externalRef"]["system"] == "SQUARE"
    assert found["store"] == {"id": store}
    assert (found["paymentStatus"], found["fulfillmentStatus"], found["pickupStatus"]) == (
        "PENDING",
        "UNFULFILLED",
        "PREPARING",
    )
    assert [(line["sku"], line["quantity"]) for line in found["lines"]] == [(sku, 2)]
    await pay_at_terminal(sandbox, placed["id"])
    paid = (await owner.run(ORDER, id=placed["id"]))["order"]
    assert paid["paymentStatus"] == "PAID"
    other = shopper(gateway, tokens, people[1])
    assert errors(await other.raw(ORDER, id=placed["id"])) == [
        ("NOT_FOUND", "No order has this id or number.")
    ]


async def test_a_seeded_receipt_is_found_by_its_owner_paid_and_handed_over(
    gateway, tokens, dataset
):
    everywhere = set(known_everywhere(dataset))
    pos_by_person = {c.person_key: c.id for c in dataset.pos_customers}
    receipt, contact = next(
        (order, contact.id)
        for contact in dataset.crm_contacts
        if contact.id in everywhere
        for order in dataset.pos_orders
        if order.customer_id == pos_by_person.get(contact.person_key)
    )
    found = (await shopper(gateway, tokens, contact).run(ORDER, id=receipt.id))["order"]
    assert (found["channel"], found["paymentStatus"], found["fulfillmentStatus"]) == (
        "STORE",
        "PAID",
        "FULFILLED",
    )
    assert found["store"] == {"id": receipt.location_id}


@pytest.mark.parametrize(
    ("variables", "code", "reason"),
    [
        ({}, "BAD_USER_INPUT", "ONE_KEY"),
        ({"id": "x", "number": "#1001"}, "BAD_USER_INPUT", "ONE_KEY"),
        ({"id": " "}, "BAD_USER_INPUT", "INVALID_KEY"),
        ({"number": "#" * 200}, "BAD_USER_INPUT", "INVALID_KEY"),
    ],
)
async def test_a_look_up_needs_one_key(gateway, tokens, people, variables, code, reason):
    body = await shopper(gateway, tokens, people[0]).raw(ORDER, **variables)
    assert [(e["extensions"]["code"], e["extensions"]["reason"]) for e in body["errors"]] == [
        (code, reason)
    ]


async def test_who_may_look_orders_up(gateway, tokens, dataset):
    anonymous = await gateway.query(ORDER, {"id": "x"})
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    kiosk = Device(gateway, {"authorization": f"Bearer {tokens.kiosk(dataset.stores[0].id)}"})
    assert [e["extensions"]["code"] for e in (await kiosk.raw(ORDER, id="x"))["errors"]] == [
        "FORBIDDEN"
    ]
