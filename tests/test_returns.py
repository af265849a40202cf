"""Returns anywhere, end to end against the sandbox and a real mongod: staff at a store take
back lines of an online order or a store order; the refund goes to the order's Square
payment, the units back to that store's stock unless damaged, the points earned on them
back off the loyalty account; exactly once per key, under crashes and concurrent returns.
docs/returns.md describes what each test holds."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from cart_api import CART_CREATE, CHECKOUT, SET_FULFILLMENT, Device, staff_at
from cart_api import stocked_skus as skus_at
from offers_api import put_promotions
from payments_api import pay_at_terminal, square_world
from test_orders import ORDER
from test_payments import restarted, services_of

from commerce.offers import OfferKind, Promotion
from gateway.settings import Settings
from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset

RETURN = """
mutation ($orderId: ID!, $lines: [ReturnLineInput!]!, $key: String!) {
  orderReturn(orderId: $orderId, lines: $lines, idempotencyKey: $key) {
    replayed
    orderReturn {
      id orderId state refund { amount currency } refundId restocked
      pointsTakenBack pointsNotRecovered store { id } lines { sku quantity damaged }
    }
    userErrors { field message code }
  }
}
"""


@pytest.fixture(autouse=True)
def stock_restored(sandbox: Any) -> Iterator[None]:
    """The sandbox is shared by the whole session and other tests compare its stock with the
    dataset's: what these returns put back is taken out again afterwards."""
    counts = square_world(sandbox).counts_by_variation
    saved = {variation: list(levels) for variation, levels in counts.items()}
    yield
    counts.clear()
    counts.update(saved)


def refunds_of(sandbox: Any, payment_id: str) -> list[dict[str, Any]]:
    return [r for r in square_world(sandbox).refunds.values() if r["payment_id"] == payment_id]


def stock(sandbox: Any, dataset: Dataset, sku: str, location_id: str) -> int:
    variation = dataset.products_by_sku[sku].square_variation_id
    counts = square_world(sandbox).counts_by_variation[variation]
    return next((quantity for loc, quantity, _ in counts if loc == location_id), 0)


def points(sandbox: Any, account: str) -> int:
    balance: int = square_world(sandbox).loyalty_balance(account)[0]
    return balance


def loyalty_members(dataset: Dataset) -> list[tuple[str, str]]:
    """(CRM contact, loyalty account) of people known everywhere."""
    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    pos_by_person = {c.person_key: c.id for c in dataset.pos_customers}
    shop = {c.person_key for c in dataset.shop_customers}
    accounts = {a.customer_id: a.id for a in dataset.loyalty_accounts}
    return [
        (contact.id, accounts[pos_by_person[contact.person_key]])
        for contact in reversed(dataset.crm_contacts)
        if crm_count[contact.person_key] == 1
        and contact.person_key in shop
        and pos_by_person.get(contact.person_key) in accounts
    ]


@pytest.fixture(scope="module")
def loyal(dataset: Dataset) -> list[tuple[str, str]]:
    """Loyalty members past those test_payments takes; test_return_requests takes 15 on."""
    return loyalty_members(dataset)[5:]


def member(gateway, tokens, members, index: int) -> tuple[Device, str]:
    contact, account = members[index]
    return Device(gateway, {"authorization": f"Bearer {tokens.customer(contact)}"}), account


async def web_order(
    device: Device, dataset: Dataset, key: str, quantities: tuple[int, ...] = (1, 2)
) -> dict[str, Any]:
    skus = skus_at(dataset, WAREHOUSE_LOCATION_ID, 20, len(quantities))
    lines = [{"sku": sku, "quantity": q} for sku, q in zip(skus, quantities, strict=True)]
    cart = (await device.run(CART_CREATE, lines=lines))["cartCreate"]["cart"]
    placed = (await device.run(CHECKOUT, cartId=cart["id"], channel="WEB", key=key))["checkout"]
    assert placed["userErrors"] == []
    return dict(placed["order"])


def payment_of(sandbox: Any, order: dict[str, Any]) -> str:
    placed = sandbox.apps["shopify"].app.state.shop.node(order["id"])
    (sale,) = placed["transactions"]
    return str(sale["authorizationCode"])


def shop_kinds(sandbox: Any, order_id: str) -> list[str]:
    placed = sandbox.apps["shopify"].app.state.shop.node(order_id)
    return [t["kind"] for t in placed["transactions"]]


async def unit_price(device: Device, order_id: str, sku: str) -> Decimal:
    order = (await device.run(ORDER, id=order_id))["order"]
    return next(Decimal(li["unitPrice"]["amount"]) for li in order["lines"] if li["sku"] == sku)


async def test_a_store_takes_back_an_online_order_once(gateway, tokens, dataset, sandbox, loyal):
    shopper, account = member(gateway, tokens, loyal, 0)
    order = await web_order(shopper, dataset, "returns-web-1")
    payment = payment_of(sandbox, order)
    earned = points(sandbox, account)
    store = dataset.stores[2].id
    sku = order["lines"][1]["sku"]  # two units bought
    price = await unit_price(shopper, order["id"], sku)
    stock_before = stock(sandbox, dataset, sku, store)
    till = staff_at(gateway, tokens, store)
    lines = [{"sku": sku, "quantity": 1}]
    taken = (await till.run(RETURN, orderId=order["id"], lines=lines, key="ret-1"))["orderReturn"]
    assert taken["userErrors"] == []
    back = taken["orderReturn"]
    assert (back["state"], back["restocked"], back["store"]) == ("COMPLETED", True, {"id": store})
    assert Decimal(back["refund"]["amount"]) == price
    (refund,) = refunds_of(sandbox, payment)
    assert (refund["id"], refund["amount_money"]["amount"]) == (back["refundId"], int(price * 100))
    assert stock(sandbox, dataset, sku, store) == stock_before + 1
    assert back["pointsTakenBack"] == int(price)
    assert points(sandbox, account) == earned - int(price)
    assert shop_kinds(sandbox, order["id"]) == ["SALE", "REFUND"]
    seen = (await shopper.run(ORDER, id=order["id"]))["order"]
    assert seen["paymentStatus"] == "PARTIALLY_REFUNDED"

    again = (await till.run(RETURN, orderId=order["id"], lines=lines, key="ret-1"))["orderReturn"]
    assert again["replayed"] is True
    assert again["orderReturn"] == back
    assert len(refunds_of(sandbox, payment)) == 1
    assert stock(sandbox, dataset, sku, store) == stock_before + 1
    assert shop_kinds(sandbox, order["id"]) == ["SALE", "REFUND"]

    # the other unit, then one more than was bought
    rest = (await till.run(RETURN, orderId=order["id"], lines=lines, key="ret-2"))["orderReturn"]
    assert rest["userErrors"] == []
    over = (await till.run(RETURN, orderId=order["id"], lines=lines, key="ret-3"))["orderReturn"]
    assert [(e["code"], e["field"]) for e in over["userErrors"]] == [
        ("QUANTITY_EXCEEDED", ["lines", "0", "quantity"])
    ]
    assert over["orderReturn"] is None
    assert len(refunds_of(sandbox, payment)) == 2
    assert shop_kinds(sandbox, order["id"]) == ["SALE", "REFUND", "REFUND"]
    reused = await till.run(
        RETURN, orderId=order["id"], lines=[{"sku": sku, "quantity": 2}], key="ret-1"
    )
    assert [e["code"] for e in reused["orderReturn"]["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]


async def test_damaged_units_are_refunded_but_not_restocked(gateway, tokens, dataset, sandbox):
    staff_store = dataset.stores[1].id
    shopper = Device(
        gateway, {"authorization": f"Bearer {tokens.customer(dataset.crm_contacts[-3].id)}"}
    )
    order = await web_order(shopper, dataset, "returns-web-damaged", (1,))
    sku = order["lines"][0]["sku"]
    before = stock(sandbox, dataset, sku, staff_store)
    till = staff_at(gateway, tokens, staff_store)
    lines = [{"sku": sku, "quantity": 1, "damaged": True}]
    taken = (await till.run(RETURN, orderId=order["id"], lines=lines, key="ret-dmg"))["orderReturn"]
    assert taken["userErrors"] == []
    assert Decimal(taken["orderReturn"]["refund"]["amount"]) == Decimal(order["total"]["amount"])
    assert stock(sandbox, dataset, sku, staff_store) == before


async def test_a_store_order_is_refunded_to_the_terminals_payment(
    gateway, tokens, dataset, sandbox, loyal
):
    shopper, _ = member(gateway, tokens, loyal, 1)
    store = dataset.stores[3].id
    sku = skus_at(dataset, store, 5, 1)[0]
    cart = (await shopper.run(CART_CREATE, lines=[{"sku": sku, "quantity": 2}]))["cartCreate"]
    await shopper.run(SET_FULFILLMENT, cartId=cart["cart"]["id"], type="PICKUP", storeId=store)
    till = staff_at(gateway, tokens, store)
    placed = (
        await till.run(CHECKOUT, cartId=cart["cart"]["id"], channel="STORE", key="returns-till")
    )["checkout"]["order"]
    unpaid = await till.run(
        RETURN, orderId=placed["id"], lines=[{"sku": sku, "quantity": 1}], key="ret-unpaid"
    )
    assert [e["code"] for e in unpaid["orderReturn"]["userErrors"]] == ["NOT_PAID"]
    payment = await pay_at_terminal(sandbox, placed["id"])
    elsewhere = staff_at(gateway, tokens, dataset.stores[4].id)
    taken = (
        await elsewhere.run(
            RETURN, orderId=placed["id"], lines=[{"sku": sku, "quantity": 1}], key="ret-store"
        )
    )["orderReturn"]
    assert taken["userErrors"] == []
    assert taken["orderReturn"]["store"] == {"id": dataset.stores[4].id}
    (refund,) = refunds_of(sandbox, payment["id"])
    assert refund["amount_money"]["amount"] * 2 == payment["amount_money"]["amount"]
    seen = (await shopper.run(ORDER, id=placed["id"]))["order"]
    assert seen["paymentStatus"] == "PARTIALLY_REFUNDED"


async def test_a_twin_of_the_key_that_reserved_the_units_meanwhile_answers_its_return(
    gateway, tokens, dataset, sandbox
):
    """A till sends the same key twice; the second send finds no return yet, then reads the
    order's counters after the first reserved the unit: it answers that return, replayed,
    not QUANTITY_EXCEEDED. The first send is run inside that read."""
    shopper = Device(
        gateway, {"authorization": f"Bearer {tokens.customer(dataset.crm_contacts[-8].id)}"}
    )
    order = await web_order(shopper, dataset, "returns-web-twin", (1,))
    payment = payment_of(sandbox, order)
    lines = [{"sku": order["lines"][0]["sku"], "quantity": 1}]
    till = staff_at(gateway, tokens, dataset.stores[1].id, "staff-twin")
    counters_of = services_of(gateway).returns._returns
    read_counters = counters_of.order
    firsts: list[dict[str, Any]] = []

    async def read_after_the_twin(order_id: str) -> Any:
        counters_of.order = read_counters  # the twin reads as usual
        sent = await till.run(RETURN, orderId=order["id"], lines=lines, key="ret-twin")
        firsts.append(sent["orderReturn"])
        return await read_counters(order_id)

    counters_of.order = read_after_the_twin
    try:
        late = (await till.run(RETURN, orderId=order["id"], lines=lines, key="ret-twin"))[
            "orderReturn"
        ]
    finally:
        counters_of.order = read_counters

    [first] = firsts
    assert (first["userErrors"], first["replayed"]) == ([], False)
    assert (late["userErrors"], late["replayed"]) == ([], True)
    assert late["orderReturn"]["id"] == first["orderReturn"]["id"]
    assert len(refunds_of(sandbox, payment)) == 1


@contextmanager
def crashing_after_the_refund(gateway: Any) -> Iterator[None]:
    """The pod dies once a return's refund is made, before the return records it."""
    store_of_returns = services_of(gateway).returns._returns
    recorded = store_of_returns.refunded

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the pod died after the refund")

    store_of_returns.refunded = crash
    try:
        yield
    finally:
        store_of_returns.refunded = recorded


@pytest.fixture
def reconciled(settings: Settings) -> Settings:
    """The same database and sandbox, with a reconciler that takes on anything unfinished
    at start-up, and only then."""
    return settings.with_changes(
        cart={"reconcile_grace_seconds": 0, "reconcile_interval_seconds": 0}
    )


@pytest.mark.parametrize("recovery", ["retry", "reconciler"])
async def test_a_crash_after_the_refund_is_finished_without_a_second_refund(
    gateway, tokens, dataset, sandbox, reconciled, recovery
):
    contact = dataset.crm_contacts[-5 if recovery == "retry" else -6].id
    shopper = Device(gateway, {"authorization": f"Bearer {tokens.customer(contact)}"})
    order = await web_order(shopper, dataset, f"returns-web-crash-{recovery}", (1,))
    payment = payment_of(sandbox, order)
    sku = order["lines"][0]["sku"]
    store = dataset.stores[2].id
    before = stock(sandbox, dataset, sku, store)
    till = staff_at(gateway, tokens, store)
    lines = [{"sku": sku, "quantity": 1}]
    key = f"ret-crash-{recovery}"
    with crashing_after_the_refund(gateway):
        failed = await till.raw(RETURN, orderId=order["id"], lines=lines, key=key)
    assert [e["extensions"]["code"] for e in failed["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert len(refunds_of(sandbox, payment)) == 1, "the money went back before the crash"
    assert stock(sandbox, dataset, sku, store) == before
    if recovery == "reconciler":
        async with restarted(reconciled):
            pass
        services = services_of(gateway)
        returns = services.mongo[services.settings.mongodb_database]["returns"]
        (doc,) = await returns.find({"order_id": order["id"]}).to_list()
        assert (doc["state"], doc["restocked"]) == ("COMPLETED", True)
    retried = (await till.run(RETURN, orderId=order["id"], lines=lines, key=key))["orderReturn"]
    assert retried["userErrors"] == []
    assert retried["replayed"] is True
    assert retried["orderReturn"]["state"] == "COMPLETED"
    (refund,) = refunds_of(sandbox, payment)
    assert retried["orderReturn"]["refundId"] == refund["id"]
    assert stock(sandbox, dataset, sku, store) == before + 1
    assert shop_kinds(sandbox, order["id"]) == ["SALE", "REFUND"]
    seen = (await shopper.run(ORDER, id=order["id"]))["order"]
    assert seen["paymentStatus"] == "REFUNDED", "the whole order came back"


async def test_two_returns_of_the_last_unit_at_once_one_wins(gateway, tokens, dataset, sandbox):
    shopper = Device(
        gateway, {"authorization": f"Bearer {tokens.customer(dataset.crm_contacts[-7].id)}"}
    )
    order = await web_order(shopper, dataset, "returns-web-race", (1,))
    payment = payment_of(sandbox, order)
    lines = [{"sku": order["lines"][0]["sku"], "quantity": 1}]
    tills = [staff_at(gateway, tokens, dataset.stores[i].id, f"staff-race-{i}") for i in (1, 2)]
    answers = await asyncio.gather(
        *(
            till.run(RETURN, orderId=order["id"], lines=lines, key=f"ret-race-{i}")
            for i, till in enumerate(tills)
        )
    )
    outcomes = sorted(tuple(e["code"] for e in a["orderReturn"]["userErrors"]) for a in answers)
    assert outcomes == [(), ("QUANTITY_EXCEEDED",)]
    assert len(refunds_of(sandbox, payment)) == 1


async def test_a_return_that_breaks_a_promotion_refunds_what_was_paid_less_the_kept_items_new_price(
    gateway, settings, tokens, dataset, sandbox
):
    await put_promotions(
        settings,
        Promotion(
            id="returns-bogo",
            kind=OfferKind.BUY_X_GET_Y,
            buy_quantity=1,
            get_quantity=1,
            value=Decimal(0),
        ),
    )
    shopper = Device(
        gateway, {"authorization": f"Bearer {tokens.customer(dataset.crm_contacts[-9].id)}"}
    )
    order = await web_order(shopper, dataset, "returns-web-bogo", (1, 1))
    first, second = (line["sku"] for line in order["lines"])
    prices = {sku: await unit_price(shopper, order["id"], sku) for sku in (first, second)}
    paid = Decimal(order["total"]["amount"])
    assert paid == max(prices.values()), "buy one, get the cheaper one free"
    dearer = max(prices, key=lambda sku: prices[sku])
    cheaper = min(prices, key=lambda sku: prices[sku])
    till = staff_at(gateway, tokens, dataset.stores[2].id)
    taken = (
        await till.run(
            RETURN, orderId=order["id"], lines=[{"sku": dearer, "quantity": 1}], key="ret-bogo"
        )
    )["orderReturn"]
    assert taken["userErrors"] == []
    # the kept item is no longer free: it now costs its full price
    assert Decimal(taken["orderReturn"]["refund"]["amount"]) == paid - prices[cheaper]


@pytest.mark.parametrize(
    ("who", "code"), [("customer", "FORBIDDEN"), ("anonymous", "UNAUTHENTICATED")]
)
async def test_only_staff_take_returns(gateway, tokens, dataset, who, code):
    headers = (
        {"authorization": f"Bearer {tokens.customer(dataset.crm_contacts[-11].id)}"}
        if who == "customer"
        else {}
    )
    body = await Device(gateway, headers).raw(
        RETURN, orderId="x", lines=[{"sku": "x", "quantity": 1}], key="k"
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]


async def test_points_already_spent_are_written_off_never_a_negative_balance(
    gateway, tokens, dataset, sandbox, loyal
):
    shopper, account = member(gateway, tokens, loyal, 2)
    order = await web_order(shopper, dataset, "returns-web-spent", (1,))
    # the shopper spends all but 2 points at a till before bringing the item back
    world = square_world(sandbox)
    world.change_points(account, 2 - points(sandbox, account), lifetime=False)
    till = staff_at(gateway, tokens, dataset.stores[2].id)
    lines = [{"sku": order["lines"][0]["sku"], "quantity": 1}]
    taken = (await till.run(RETURN, orderId=order["id"], lines=lines, key="ret-spent"))[
        "orderReturn"
    ]["orderReturn"]
    owed = int(Decimal(taken["refund"]["amount"]))
    assert owed > 2
    assert (taken["pointsTakenBack"], taken["pointsNotRecovered"]) == (2, owed - 2)
    assert points(sandbox, account) == 0


async def test_an_order_shopify_took_the_money_for_is_refunded_through_shopify(
    gateway, tokens, dataset, sandbox
):
    """A seeded online order, paid through Shopify Payments: the refund is Shopify's
    refundCreate on its sale (no Square refund), exactly once across a crash after it."""
    seeded = next(
        order
        for order in dataset.online_orders[len(dataset.online_orders) // 2 :]
        if order.financial_status == "PAID" and order.line_items[0].sku in dataset.products_by_sku
    )
    order_id = f"gid://shopify/Order/{seeded.id}"
    line = seeded.line_items[0]
    store = dataset.stores[3].id
    before = stock(sandbox, dataset, line.sku, store)
    square_refunds = len(square_world(sandbox).refunds)
    till = staff_at(gateway, tokens, store)
    lines = [{"sku": line.sku, "quantity": 1}]
    with crashing_after_the_refund(gateway):
        failed = await till.raw(RETURN, orderId=order_id, lines=lines, key="ret-shop-paid")
    assert [e["extensions"]["code"] for e in failed["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert shop_kinds(sandbox, order_id) == ["SALE", "REFUND"], "the money went back first"

    taken = (await till.run(RETURN, orderId=order_id, lines=lines, key="ret-shop-paid"))[
        "orderReturn"
    ]
    assert taken["userErrors"] == []
    back = taken["orderReturn"]
    assert (back["state"], back["restocked"]) == ("COMPLETED", True)
    assert Decimal(back["refund"]["amount"]) == line.unit_price
    placed = sandbox.apps["shopify"].app.state.shop.node(order_id)
    sale, refund = placed["transactions"]
    assert (refund["kind"], refund["gateway"], refund["_parentId"]) == (
        "REFUND",
        "shopify_payments",
        sale["id"],
    )
    assert Decimal(refund["amountSet"]["shopMoney"]["amount"]) == line.unit_price
    assert back["refundId"].startswith("gid://shopify/Refund/")
    assert len(square_world(sandbox).refunds) == square_refunds, "Square took no money"
    assert stock(sandbox, dataset, line.sku, store) == before + 1
    seen = (await till.run(ORDER, id=order_id))["order"]
    assert seen["paymentStatus"] == "PARTIALLY_REFUNDED"
    again = await till.run(RETURN, orderId=order_id, lines=lines, key="ret-shop-paid")
    assert again["orderReturn"]["replayed"] is True
    assert shop_kinds(sandbox, order_id) == ["SALE", "REFUND"]
