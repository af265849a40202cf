"""The omnichannel cart over the real sandbox and a real mongod: one cart on every device,
versioned, priced and stock-checked through the upstreams, never losing an update."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cart_api import (
    APPLY_CODE,
    CART,
    CART_CREATE,
    LINES_ADD,
    LINES_REMOVE,
    LINES_UPDATE,
    MERGE,
    REMOVE_CODE,
    SET_FULFILLMENT,
    Device,
    codes,
    online_skus,
    stock_at,
    stocked_skus,
)
from offers_api import code_promo, put_promotions

from commerce.offers import Conditions, OfferKind, Promotion
from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset


@pytest.fixture
def shopper(gateway, tokens, dataset: Dataset):
    """A signed-in customer's devices: `shopper(n)` is device n of the same customer."""
    customer_id = dataset.crm_contacts[7].id
    token = tokens.customer(customer_id)
    return lambda: Device(gateway, {"authorization": f"Bearer {token}"})


@pytest.fixture
def other_shopper(gateway, tokens, dataset: Dataset) -> Device:
    token = tokens.customer(dataset.crm_contacts[8].id)
    return Device(gateway, {"authorization": f"Bearer {token}"})


async def test_a_customer_has_one_cart_on_every_device(shopper, dataset):
    web, app = shopper(), shopper()
    sku = online_skus(dataset)[0]
    first = (await web.run(CART_CREATE, lines=[{"sku": sku, "quantity": 2}]))["cartCreate"]
    second = (await app.run(CART_CREATE))["cartCreate"]
    assert first["cartToken"] is None  # customers need no token
    assert second["cart"]["id"] == first["cart"]["id"]
    seen = (await app.run(CART))["cart"]
    assert seen["id"] == first["cart"]["id"]
    assert [(line["sku"], line["quantity"]) for line in seen["lines"]] == [(sku, 2)]


async def test_lines_are_priced_from_the_ecommerce_system(shopper, dataset):
    device = shopper()
    a, b = online_skus(dataset, count=2)
    payload = (
        await device.run(CART_CREATE, lines=[{"sku": a, "quantity": 2}, {"sku": b, "quantity": 1}])
    )["cartCreate"]
    cart = payload["cart"]
    price = {sku: dataset.products_by_sku[sku].price for sku in (a, b)}
    by_sku = {line["sku"]: line for line in cart["lines"]}
    assert Decimal(by_sku[a]["unitPrice"]["amount"]) == price[a]
    assert Decimal(by_sku[a]["total"]["amount"]) == price[a] * 2
    assert by_sku[a]["priceChanged"] is False
    assert by_sku[a]["availableQuantity"] == stock_at(dataset, a, WAREHOUSE_LOCATION_ID)
    subtotal = price[a] * 2 + price[b]
    assert Decimal(cart["cost"]["subtotal"]["amount"]) == subtotal
    assert Decimal(cart["cost"]["total"]["amount"]) == subtotal
    assert cart["cost"]["total"]["currency"] == "USD"
    assert cart["totalQuantity"] == 3


async def test_adding_a_sku_already_in_the_cart_adds_up(shopper, dataset):
    device = shopper()
    sku = online_skus(dataset)[0]
    cart = (await device.run(CART_CREATE, lines=[{"sku": sku, "quantity": 1}]))["cartCreate"]
    added = (
        await device.run(LINES_ADD, cartId=cart["cart"]["id"], lines=[{"sku": sku, "quantity": 3}])
    )["cartLinesAdd"]
    assert added["userErrors"] == []
    assert [(line["sku"], line["quantity"]) for line in added["cart"]["lines"]] == [(sku, 4)]
    assert added["cart"]["version"] == cart["cart"]["version"] + 1


DATES = """
mutation ($cartId: ID!, $lines: [CartLineInput!]!) {
  cartLinesAdd(cartId: $cartId, lines: $lines) { cart { createdAt updatedAt lines { addedAt } } }
}
"""


async def test_dates_in_a_written_and_a_read_cart_are_utc(shopper, dataset):
    # the store decodes MongoDB dates naive and makes them UTC where read
    device = shopper()
    sku = online_skus(dataset)[0]
    cart_id = (await device.run(CART_CREATE))["cartCreate"]["cart"]["id"]
    started = datetime.now(UTC)
    for _ in range(2):  # the first add reads the cart, the second is written unread
        cart = (await device.run(DATES, cartId=cart_id, lines=[{"sku": sku, "quantity": 1}]))[
            "cartLinesAdd"
        ]["cart"]
        moments = [cart["createdAt"], cart["updatedAt"], cart["lines"][0]["addedAt"]]
        parsed = [datetime.fromisoformat(moment) for moment in moments]
        assert all(moment.utcoffset() == timedelta(0) for moment in parsed), moments
        assert parsed[1] >= started - timedelta(seconds=5)


async def test_two_devices_adding_at_once_both_land(shopper, dataset, sandbox):
    """2 devices x 100 concurrent adds without expectedVersion end with the exact sum."""
    web, app = shopper(), shopper()
    skus = online_skus(dataset, at_least=200, count=2)
    cart_id = (await web.run(CART_CREATE))["cartCreate"]["cart"]["id"]

    async def add(device: Device, sku: str) -> list[str]:
        payload = (
            await device.run(LINES_ADD, cartId=cart_id, lines=[{"sku": sku, "quantity": 1}])
        )["cartLinesAdd"]
        return codes(payload)

    results = await asyncio.gather(
        *(add(device, sku) for device in (web, app) for sku in skus for _ in range(50))
    )
    assert all(errors == [] for errors in results)
    cart = (await app.run(CART, id=cart_id))["cart"]
    assert sorted((line["sku"], line["quantity"]) for line in cart["lines"]) == sorted(
        [(skus[0], 100), (skus[1], 100)]
    )
    assert cart["version"] == 1 + 200


async def test_a_stale_expected_version_is_refused_with_the_current_cart(shopper, dataset):
    web, app = shopper(), shopper()
    a, b = online_skus(dataset, count=2)
    cart = (await web.run(CART_CREATE, lines=[{"sku": a}]))["cartCreate"]["cart"]
    version = cart["version"]
    moved = (await app.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": b}], v=version))[
        "cartLinesAdd"
    ]
    assert moved["userErrors"] == []
    stale = (await web.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": a}], v=version))[
        "cartLinesAdd"
    ]
    assert codes(stale) == ["CONFLICT"]
    assert stale["userErrors"][0]["field"] == ["expectedVersion"]
    assert stale["cart"]["version"] == version + 1
    assert sorted(line["sku"] for line in stale["cart"]["lines"]) == sorted([a, b])
    assert {line["sku"]: line["quantity"] for line in stale["cart"]["lines"]}[a] == 1


async def test_lines_update_and_remove(shopper, dataset):
    device = shopper()
    a, b = online_skus(dataset, count=2)
    cart = (await device.run(CART_CREATE, lines=[{"sku": a, "quantity": 2}, {"sku": b}]))[
        "cartCreate"
    ]["cart"]
    line_a, line_b = (next(x["id"] for x in cart["lines"] if x["sku"] == s) for s in (a, b))
    updated = (
        await device.run(LINES_UPDATE, cartId=cart["id"], lines=[{"id": line_a, "quantity": 5}])
    )["cartLinesUpdate"]
    assert {x["sku"]: x["quantity"] for x in updated["cart"]["lines"]} == {a: 5, b: 1}
    zeroed = (
        await device.run(LINES_UPDATE, cartId=cart["id"], lines=[{"id": line_b, "quantity": 0}])
    )["cartLinesUpdate"]
    assert [x["sku"] for x in zeroed["cart"]["lines"]] == [a]
    removed = (await device.run(LINES_REMOVE, cartId=cart["id"], ids=[line_a]))["cartLinesRemove"]
    assert removed["cart"]["lines"] == []
    missing = (await device.run(LINES_REMOVE, cartId=cart["id"], ids=[line_a]))["cartLinesRemove"]
    assert codes(missing) == ["LINE_NOT_FOUND"]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ({"sku": "NO-SUCH-SKU", "quantity": 1}, "PRODUCT_NOT_FOUND"),
        ({"quantity": 0}, "INVALID_QUANTITY"),
        ({"quantity": 1000}, "INVALID_QUANTITY"),
        ({"quantity": 401}, "OUT_OF_STOCK"),  # the warehouse never holds more than 400
    ],
)
async def test_bad_lines_are_refused_and_change_nothing(shopper, dataset, line, code):
    device = shopper()
    sku = online_skus(dataset)[0]
    cart = (await device.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    refused = (await device.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": sku, **line}]))[
        "cartLinesAdd"
    ]
    assert codes(refused) == [code]
    assert refused["cart"]["version"] == cart["version"]
    assert [x["quantity"] for x in refused["cart"]["lines"]] == [1]


async def test_pickup_is_checked_against_the_stores_stock(shopper, dataset):
    device = shopper()
    store = dataset.stores[0]
    sku = stocked_skus(dataset, store.id, at_least=3, count=1)[0]
    cart = (await device.run(CART_CREATE, lines=[{"sku": sku, "quantity": 2}]))["cartCreate"]
    cart_id = cart["cart"]["id"]
    picked = (await device.run(SET_FULFILLMENT, cartId=cart_id, type="PICKUP", storeId=store.id))[
        "cartSetFulfillment"
    ]
    assert picked["userErrors"] == []
    assert picked["cart"]["fulfillment"] == {"type": "PICKUP", "store": {"id": store.id}}
    assert picked["cart"]["lines"][0]["availableQuantity"] == stock_at(dataset, sku, store.id)

    too_many = stock_at(dataset, sku, store.id) + 1
    line_id = picked["cart"]["lines"][0]["id"]
    refused = (
        await device.run(
            LINES_UPDATE, cartId=cart_id, lines=[{"id": line_id, "quantity": too_many}]
        )
    )["cartLinesUpdate"]
    assert codes(refused) == ["OUT_OF_STOCK"]

    unknown = (await device.run(SET_FULFILLMENT, cartId=cart_id, type="PICKUP", storeId="NOPE"))[
        "cartSetFulfillment"
    ]
    assert codes(unknown) == ["STORE_NOT_FOUND"]
    no_store = (await device.run(SET_FULFILLMENT, cartId=cart_id, type="PICKUP"))[
        "cartSetFulfillment"
    ]
    assert codes(no_store) == ["STORE_REQUIRED"]


async def test_pickup_at_a_store_without_the_stock_is_refused(shopper, dataset):
    device = shopper()
    store = dataset.stores[0]
    scarce = next(
        p.sku
        for p in dataset.products
        if stock_at(dataset, p.sku, store.id) == 0
        and stock_at(dataset, p.sku, WAREHOUSE_LOCATION_ID) > 5
    )
    cart = (await device.run(CART_CREATE, lines=[{"sku": scarce}]))["cartCreate"]["cart"]
    refused = (
        await device.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store.id)
    )["cartSetFulfillment"]
    assert codes(refused) == ["OUT_OF_STOCK"]
    assert refused["cart"]["fulfillment"]["type"] == "DELIVERY"


async def test_lines_flag_a_changed_price_and_stock_that_ran_out(shopper, dataset, settings):
    """What the cart remembers (the price when added, the quantity) is compared with what
    the upstreams say now."""
    from pymongo import AsyncMongoClient

    device = shopper()
    a, b = online_skus(dataset, count=2)
    cart = (await device.run(CART_CREATE, lines=[{"sku": a}, {"sku": b}]))["cartCreate"]["cart"]
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_uri.get_secret_value())
    try:
        # as if `a` had cost less when added and `b`'s stock had since sold out under it
        await client[settings.mongodb_database]["carts"].update_one(
            {"_id": cart["id"]},
            {
                "$set": {
                    "lines.0.added_unit_price.amount": "0.50",
                    "lines.1.quantity": stock_at(dataset, b, WAREHOUSE_LOCATION_ID) + 1,
                }
            },
        )
    finally:
        await client.close()
    lines = {x["sku"]: x for x in (await device.run(CART, id=cart["id"]))["cart"]["lines"]}
    assert (lines[a]["priceChanged"], lines[a]["outOfStock"]) == (True, False)
    assert lines[a]["addedUnitPrice"]["amount"] == "0.50"
    assert (lines[b]["priceChanged"], lines[b]["outOfStock"]) == (False, True)


async def test_guest_cart_is_reached_by_its_token_only(gateway, dataset):
    anonymous = Device(gateway, {})
    sku = online_skus(dataset)[0]
    created = (await anonymous.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]
    token, cart_id = created["cartToken"], created["cart"]["id"]
    assert token
    holder = Device(gateway, {"x-cart-token": token})
    assert (await holder.run(CART))["cart"]["id"] == cart_id
    assert (await holder.run(CART, id=cart_id))["cart"]["id"] == cart_id
    stranger = Device(gateway, {"x-cart-token": "not-the-token"})
    assert (await stranger.run(CART, id=cart_id))["cart"] is None
    assert (await anonymous.run(CART, id=cart_id))["cart"] is None
    refused = (await stranger.run(LINES_ADD, cartId=cart_id, lines=[{"sku": sku}]))["cartLinesAdd"]
    assert codes(refused) == ["NOT_FOUND"]
    assert refused["cart"] is None


async def test_another_customers_cart_is_not_found_and_costs_no_upstream_call(
    shopper, other_shopper, dataset, sandbox
):
    sku = online_skus(dataset)[0]
    mine = (await shopper().run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    sandbox.reset_calls()
    assert (await other_shopper.run(CART, id=mine["id"]))["cart"] is None
    refused = (await other_shopper.run(LINES_ADD, cartId=mine["id"], lines=[{"sku": sku}]))[
        "cartLinesAdd"
    ]
    assert codes(refused) == ["NOT_FOUND"]
    assert sum(sandbox.total_calls(v) for v in ("square", "shopify", "salesforce")) == 0


async def _promo(settings, *promotions: Promotion) -> None:
    await put_promotions(settings, *promotions)


async def test_promo_codes_apply_with_reasons_when_refused(shopper, dataset, settings):
    now = datetime.now(UTC)
    yesterday, tomorrow = now - timedelta(days=1), now + timedelta(days=1)
    await _promo(
        settings,
        code_promo("TENOFF", OfferKind.PERCENTAGE, 10),
        code_promo("OLD", OfferKind.FIXED_AMOUNT, 5, conditions=Conditions(ends_at=yesterday)),
        code_promo("LATER", OfferKind.FIXED_AMOUNT, 5, conditions=Conditions(starts_at=tomorrow)),
        code_promo(
            "BIG", OfferKind.FIXED_AMOUNT, 5, conditions=Conditions(min_subtotal=Decimal(100_000))
        ),
    )
    device = shopper()
    sku = online_skus(dataset)[0]
    cart = (await device.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    for code, reason in [
        ("NOPE", "UNKNOWN_CODE"),
        ("OLD", "EXPIRED"),
        ("LATER", "NOT_STARTED"),
        ("BIG", "MINIMUM_NOT_REACHED"),
    ]:
        refused = (await device.run(APPLY_CODE, cartId=cart["id"], code=code))["cartApplyPromoCode"]
        assert [(e["code"], e["reason"]) for e in refused["userErrors"]] == [
            ("PROMO_NOT_APPLICABLE", reason)
        ]
    applied = (await device.run(APPLY_CODE, cartId=cart["id"], code=" tenoff "))[
        "cartApplyPromoCode"
    ]
    assert applied["userErrors"] == []
    price = dataset.products_by_sku[sku].price
    discount = (price / 10).quantize(Decimal("0.01"))
    assert applied["cart"]["promoCodes"] == [
        {
            "code": "TENOFF",
            "applicable": True,
            "reason": None,
            "discount": {"amount": str(discount)},
        }
    ]
    assert Decimal(applied["cart"]["cost"]["total"]["amount"]) == price - discount
    removed = (await device.run(REMOVE_CODE, cartId=cart["id"], code="TENOFF"))[
        "cartRemovePromoCode"
    ]
    assert removed["cart"]["promoCodes"] == []
    again = (await device.run(REMOVE_CODE, cartId=cart["id"], code="TENOFF"))["cartRemovePromoCode"]
    assert codes(again) == ["PROMO_CODE_NOT_IN_CART"]


async def _guest_cart(gateway, lines, code: str | None = None) -> str:
    anonymous = Device(gateway, {})
    created = (await anonymous.run(CART_CREATE, lines=lines))["cartCreate"]
    if code is not None:
        holder = Device(gateway, {"x-cart-token": created["cartToken"]})
        applied = (await holder.run(APPLY_CODE, cartId=created["cart"]["id"], code=code))[
            "cartApplyPromoCode"
        ]
        assert applied["userErrors"] == []
    return str(created["cartToken"])


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (None, {"a": 3, "b": 1, "c": 1}),  # the configured default: merge quantities
        ("MERGE_QUANTITIES", {"a": 3, "b": 1, "c": 1}),
        ("KEEP_NEWEST", {"a": 1, "c": 1}),  # the guest cart changed last
        ("KEEP_CUSTOMER", {"a": 2, "b": 1}),
    ],
)
async def test_login_merges_the_guest_cart_by_policy(
    gateway, shopper, dataset, settings, policy, expected
):
    await _promo(settings, code_promo("WELCOME", OfferKind.FIXED_AMOUNT, 1))
    a, b, c = online_skus(dataset, count=3)
    sku = {"a": a, "b": b, "c": c}
    device = shopper()
    await device.run(CART_CREATE, lines=[{"sku": a, "quantity": 2}, {"sku": b}])
    token = await _guest_cart(gateway, [{"sku": a}, {"sku": c}], code="WELCOME")
    merged = (await device.run(MERGE, token=token, policy=policy))["cartMergeGuest"]
    assert merged["userErrors"] == []
    assert {x["sku"]: x["quantity"] for x in merged["cart"]["lines"]} == {
        sku[k]: q for k, q in expected.items()
    }
    assert [p["code"] for p in merged["cart"]["promoCodes"]] == ["WELCOME"]
    # the guest cart is closed: its token reaches nothing more
    again = (await device.run(MERGE, token=token))["cartMergeGuest"]
    assert codes(again) == ["NOT_FOUND"]


async def test_login_without_a_cart_adopts_the_guest_cart(gateway, shopper, dataset):
    sku = online_skus(dataset)[0]
    token = await _guest_cart(gateway, [{"sku": sku, "quantity": 2}])
    device = Device(gateway, {**shopper().headers, "x-cart-token": token})
    merged = (await device.run(MERGE))["cartMergeGuest"]
    assert merged["userErrors"] == []
    assert [(x["sku"], x["quantity"]) for x in merged["cart"]["lines"]] == [(sku, 2)]
    assert (await shopper().run(CART))["cart"]["id"] == merged["cart"]["id"]
    assert (await Device(gateway, {"x-cart-token": token}).run(CART))["cart"] is None


async def test_merging_needs_a_signed_in_customer(gateway, dataset):
    token = await _guest_cart(gateway, [{"sku": online_skus(dataset)[0]}])
    refused = (await Device(gateway, {"x-cart-token": token}).run(MERGE))["cartMergeGuest"]
    assert codes(refused) == ["UNAUTHENTICATED"]


STAFF_CART_CREATE = """
mutation ($customerId: ID, $lines: [CartLineInput!]) {
  cartCreate(customerId: $customerId, lines: $lines) {
    cart { id lines { sku quantity } } userErrors { code field }
  }
}
"""


async def test_staff_build_a_customers_cart_on_their_behalf_and_are_audited(
    gateway, shopper, tokens, dataset, settings
):
    from pymongo import AsyncMongoClient

    store = dataset.stores[0]
    staff = Device(gateway, {"authorization": f"Bearer {tokens.staff(store.id)}"})
    customer_id = dataset.crm_contacts[7].id  # the `shopper`
    sku = online_skus(dataset)[0]
    built = (await staff.run(STAFF_CART_CREATE, customerId=customer_id, lines=[{"sku": sku}]))[
        "cartCreate"
    ]
    assert built["userErrors"] == []
    mine = (await shopper().run(CART))["cart"]
    assert mine["id"] == built["cart"]["id"]
    assert [(x["sku"], x["quantity"]) for x in mine["lines"]] == [(sku, 1)]
    assert (await staff.run(CART, id=mine["id"]))["cart"]["id"] == mine["id"]

    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_uri.get_secret_value())
    try:
        entries = await client[settings.mongodb_database]["audit_log"].count_documents(
            {"customer_id": customer_id, "actor.kind": "STAFF", "actor.store_id": store.id}
        )
    finally:
        await client.close()
    assert entries == 2  # building the cart, then reading it

    refused = (await shopper().run(STAFF_CART_CREATE, customerId=dataset.crm_contacts[8].id))[
        "cartCreate"
    ]
    assert refused["userErrors"] == [{"code": "FORBIDDEN", "field": ["customerId"]}]


async def test_mongodb_down_refuses_cart_changes_with_a_stable_code(make_gateway, settings):
    from gateway.local_mongod import free_port

    # a mutation waits for a primary until the request deadline, then gives up
    down = settings.with_changes(
        mongodb_uri=f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        mongodb_timeout_seconds=0.3,
        request_deadline_seconds=1.0,
    )
    async with make_gateway(down) as client:
        body = await client.query(CART_CREATE, {"lines": []})
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["DATABASE_UNAVAILABLE"]
    assert "Traceback" not in str(body)
