"""A return started from the app, end to end against the sandbox and a real mongod: the
customer opens a request on her own order, its units are held against the order's return
counters (no money moves), staff at a store receive it through the one return path (refund
once, stock back at that store, points back), she may cancel it, it expires; exactly once
per key, under crashes and concurrent opens. docs/returns.md "A return started from the app"
describes what each test holds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cart_api import CART_CREATE, CHECKOUT, SET_FULFILLMENT, Device, staff_at
from cart_api import stocked_skus as skus_at
from payments_api import square_world
from test_payments import services_of
from test_returns import (
    RETURN,
    crashing_after_the_refund,
    loyalty_members,
    member,
    payment_of,
    points,
    refunds_of,
    stock,
    unit_price,
    web_order,
)

from sandbox.dataset import Dataset

OPEN = """
mutation ($orderId: ID!, $lines: [ReturnRequestLineInput!]!, $reason: ReturnReason!,
          $method: ReturnMethod!, $key: String!) {
  returnRequestOpen(orderId: $orderId, lines: $lines, reason: $reason, method: $method,
                    idempotencyKey: $key) {
    replayed
    returnRequest {
      id orderId state reason method createdAt expiresAt closedAt lines { sku quantity }
      orderReturn { id }
    }
    userErrors { field message code }
  }
}
"""
CANCEL = """
mutation ($id: ID!) {
  returnRequestCancel(id: $id) {
    replayed returnRequest { id state closedAt } userErrors { field message code }
  }
}
"""
RECEIVE = """
mutation ($id: ID!, $damaged: [ID!]) {
  returnRequestReceive(id: $id, damaged: $damaged) {
    replayed
    orderReturn {
      id orderId state refund { amount currency } refundId restocked pointsTakenBack
      store { id } lines { sku quantity damaged }
    }
    userErrors { field message code }
  }
}
"""
MY_REQUESTS = """
{ me { returnRequests { id state orderId closedAt orderReturn { id state refundId } } } }
"""
ORDER_REQUESTS = """
query ($id: ID!) { order(id: $id) { returnRequests { id state lines { sku quantity } } } }
"""
CUSTOMER_REQUESTS = """
query ($id: ID!) { customer(id: $id) { returnRequests { id state } } }
"""


@pytest.fixture(autouse=True)
def stock_restored(sandbox: Any) -> Iterator[None]:
    """What these returns put back into the shared sandbox's stock is taken out again."""
    counts = square_world(sandbox).counts_by_variation
    saved = {variation: list(levels) for variation, levels in counts.items()}
    yield
    counts.clear()
    counts.update(saved)


@pytest.fixture(scope="module")
def shoppers(dataset: Dataset) -> list[tuple[str, str]]:
    """Loyalty members past those test_payments and test_returns take."""
    members = loyalty_members(dataset)[15:25]
    assert len(members) == 10
    return members


async def open_request(
    device: Device,
    order_id: str,
    lines: list[dict[str, Any]],
    key: str,
    method: str = "BRING_TO_STORE",
) -> dict[str, Any]:
    body = await device.run(
        OPEN, orderId=order_id, lines=lines, reason="NO_LONGER_NEEDED", method=method, key=key
    )
    return dict(body["returnRequestOpen"])


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


def collection(gateway: Any, name: str) -> Any:
    services = services_of(gateway)
    return services.mongo[services.settings.mongodb_database][name]


async def counters(gateway: Any, order_id: str) -> dict[str, Any]:
    doc = await collection(gateway, "order_returns").find_one({"_id": order_id})
    # a staff return writes the document first without requests
    return {"returned": {}, "requests": {}, **(doc or {})}


@contextmanager
def clock_moved(gateway: Any, by: timedelta) -> Iterator[None]:
    """The time return requests expire by, moved forward: no sleeping."""
    service = services_of(gateway).returns
    real = service._clock
    service._clock = lambda: real() + by
    try:
        yield
    finally:
        service._clock = real


async def test_a_request_from_the_app_is_received_at_a_store_once(
    gateway, tokens, dataset, sandbox, shoppers
):
    shopper, account = member(gateway, tokens, shoppers, 0)
    order = await web_order(shopper, dataset, "requests-web-1")
    payment = payment_of(sandbox, order)
    sku = order["lines"][1]["sku"]  # two units bought
    price = await unit_price(shopper, order["id"], sku)
    earned = points(sandbox, account)
    store = dataset.stores[2].id
    stock_before = stock(sandbox, dataset, sku, store)

    opened = await open_request(shopper, order["id"], [{"sku": sku, "quantity": 2}], "app-1")
    assert opened["userErrors"] == []
    request = opened["returnRequest"]
    assert (request["state"], request["orderId"], request["orderReturn"]) == (
        "OPEN",
        order["id"],
        None,
    )
    expires = datetime.fromisoformat(request["expiresAt"])
    assert expires - datetime.fromisoformat(request["createdAt"]) == timedelta(days=30)
    assert refunds_of(sandbox, payment) == [], "no money moves when it is opened"
    assert points(sandbox, account) == earned
    mine = (await shopper.run(MY_REQUESTS))["me"]["returnRequests"]
    assert [(r["id"], r["state"]) for r in mine] == [(request["id"], "OPEN")]

    # the held units are not there for staff to take back twice
    till = staff_at(gateway, tokens, store)
    at_the_counter = (await till.run(ORDER_REQUESTS, id=order["id"]))["order"]
    assert at_the_counter["returnRequests"] == [
        {"id": request["id"], "state": "OPEN", "lines": [{"sku": sku, "quantity": 2}]}
    ]
    lines = [{"sku": sku, "quantity": 1}]
    over = (await till.run(RETURN, orderId=order["id"], lines=lines, key="req-over-1"))[
        "orderReturn"
    ]
    assert [(e["code"], e["field"]) for e in over["userErrors"]] == [
        ("QUANTITY_EXCEEDED", ["lines", "0", "quantity"])
    ]

    received = (await till.run(RECEIVE, id=request["id"]))["returnRequestReceive"]
    assert received["userErrors"] == []
    audited = await collection(gateway, "audit_log").find_one(
        {"order.id": order["id"], "operation.name": "returnRequestReceive"}
    )
    assert audited is not None, "staff receiving a request is on the audit log"
    assert audited["actor"]["store_id"] == store
    back = received["orderReturn"]
    assert (back["state"], back["restocked"], back["store"]) == ("COMPLETED", True, {"id": store})
    assert back["lines"] == [{"sku": sku, "quantity": 2, "damaged": False}]
    assert Decimal(back["refund"]["amount"]) == 2 * price
    (refund,) = refunds_of(sandbox, payment)
    assert refund["id"] == back["refundId"]
    assert stock(sandbox, dataset, sku, store) == stock_before + 2
    assert back["pointsTakenBack"] == int(2 * price)
    assert points(sandbox, account) == earned - int(2 * price)

    # received again, at another till: the same return, nothing moves twice
    elsewhere = staff_at(gateway, tokens, dataset.stores[3].id, "staff-0002")
    again = (await elsewhere.run(RECEIVE, id=request["id"]))["returnRequestReceive"]
    assert (again["replayed"], again["orderReturn"]) == (True, back)
    assert len(refunds_of(sandbox, payment)) == 1
    assert stock(sandbox, dataset, sku, store) == stock_before + 2

    held = await counters(gateway, order["id"])
    assert (held["returned"], held["requests"]) == ({sku: 2}, {}), "converted, not doubled"
    mine = (await shopper.run(MY_REQUESTS))["me"]["returnRequests"]
    assert [(r["state"], r["orderReturn"]["refundId"]) for r in mine] == [
        ("RECEIVED", back["refundId"])
    ]
    assert mine[0]["closedAt"] is not None
    seen_by_staff = await till.run(CUSTOMER_REQUESTS, id=shoppers[0][0])
    assert seen_by_staff["customer"]["returnRequests"] == [
        {"id": request["id"], "state": "RECEIVED"}
    ]

    # everything of that line is back: no request, no staff return, no cancel any more
    more = await open_request(shopper, order["id"], lines, "app-1-more")
    assert codes(more) == ["QUANTITY_EXCEEDED"]
    late = (await shopper.run(CANCEL, id=request["id"]))["returnRequestCancel"]
    assert codes(late) == ["REQUEST_NOT_OPEN"]


async def test_cancelling_releases_the_units(gateway, tokens, dataset, sandbox, shoppers):
    shopper, _ = member(gateway, tokens, shoppers, 1)
    order = await web_order(shopper, dataset, "requests-web-cancel", (1,))
    payment = payment_of(sandbox, order)
    sku = order["lines"][0]["sku"]
    lines = [{"sku": sku, "quantity": 1}]
    request = (await open_request(shopper, order["id"], lines, "app-cancel", "SHIP_BACK"))[
        "returnRequest"
    ]
    assert request["method"] == "SHIP_BACK"
    till = staff_at(gateway, tokens, dataset.stores[1].id)
    blocked = await till.run(RETURN, orderId=order["id"], lines=lines, key="req-cancel-1")
    assert codes(blocked["orderReturn"]) == ["QUANTITY_EXCEEDED"]

    cancelled = (await shopper.run(CANCEL, id=request["id"]))["returnRequestCancel"]
    assert cancelled["userErrors"] == []
    assert (cancelled["replayed"], cancelled["returnRequest"]["state"]) == (False, "CANCELLED")
    assert cancelled["returnRequest"]["closedAt"] is not None
    again = (await shopper.run(CANCEL, id=request["id"]))["returnRequestCancel"]
    assert (again["replayed"], again["returnRequest"]["state"]) == (True, "CANCELLED")
    assert (await counters(gateway, order["id"]))["requests"] == {}

    refused = (await till.run(RECEIVE, id=request["id"]))["returnRequestReceive"]
    assert (codes(refused), refused["orderReturn"]) == (["REQUEST_NOT_OPEN"], None)
    taken = await till.run(RETURN, orderId=order["id"], lines=lines, key="req-cancel-2")
    assert taken["orderReturn"]["userErrors"] == [], "the units are free again"
    assert len(refunds_of(sandbox, payment)) == 1


async def test_a_request_not_received_in_time_expires_and_releases_its_units(
    gateway, tokens, dataset, sandbox, shoppers
):
    shopper, _ = member(gateway, tokens, shoppers, 2)
    order = await web_order(shopper, dataset, "requests-web-expiry", (2,))
    sku = order["lines"][0]["sku"]
    request = (
        await open_request(shopper, order["id"], [{"sku": sku, "quantity": 2}], "app-expiry")
    )["returnRequest"]
    till = staff_at(gateway, tokens, dataset.stores[1].id)
    one = [{"sku": sku, "quantity": 1}]
    with clock_moved(gateway, timedelta(days=30, seconds=-1)):
        blocked = await till.run(RETURN, orderId=order["id"], lines=one, key="req-exp-0")
        assert codes(blocked["orderReturn"]) == ["QUANTITY_EXCEEDED"], "not expired yet"
    with clock_moved(gateway, timedelta(days=30)):
        # expired from that moment: read so, and holding nothing, before any pass runs
        mine = (await shopper.run(MY_REQUESTS))["me"]["returnRequests"]
        assert [(r["state"], r["closedAt"]) for r in mine] == [("EXPIRED", request["expiresAt"])]
        refused = (await till.run(RECEIVE, id=request["id"]))["returnRequestReceive"]
        assert codes(refused) == ["REQUEST_NOT_OPEN"]
        late = (await shopper.run(CANCEL, id=request["id"]))["returnRequestCancel"]
        assert codes(late) == ["REQUEST_NOT_OPEN"]
        taken = await till.run(RETURN, orderId=order["id"], lines=one, key="req-exp-1")
        assert taken["orderReturn"]["userErrors"] == []
        # the reconciler's pass writes it down and removes the hold
        await services_of(gateway).checkout_reconciler.run_once()
    doc = await collection(gateway, "return_requests").find_one({"_id": request["id"]})
    assert doc["state"] == "EXPIRED"
    held = await counters(gateway, order["id"])
    assert (held["returned"], held["requests"]) == ({sku: 1}, {})
    rest = await open_request(shopper, order["id"], one, "app-expiry-again")
    assert rest["userErrors"] == []


async def test_only_her_own_orders_and_requests(gateway, tokens, dataset, sandbox, shoppers):
    alice, _ = member(gateway, tokens, shoppers, 3)
    bob, _ = member(gateway, tokens, shoppers, 4)
    order = await web_order(alice, dataset, "requests-web-owner", (1,))
    lines = [{"sku": order["lines"][0]["sku"], "quantity": 1}]
    others = await open_request(bob, order["id"], lines, "bob-1")
    unknown = await open_request(bob, "gid://shopify/Order/999999999999", lines, "bob-2")
    assert others["userErrors"] == unknown["userErrors"]
    assert codes(others) == ["ORDER_NOT_FOUND"]
    assert (await counters(gateway, order["id"]))["requests"] == {}

    request = (await open_request(alice, order["id"], lines, "alice-1"))["returnRequest"]
    stolen = (await bob.run(CANCEL, id=request["id"]))["returnRequestCancel"]
    nothing = (await bob.run(CANCEL, id="f" * 64))["returnRequestCancel"]
    assert stolen["userErrors"] == nothing["userErrors"]
    assert codes(stolen) == ["REQUEST_NOT_FOUND"]
    assert (await bob.run(MY_REQUESTS))["me"]["returnRequests"] == []
    assert [r["state"] for r in (await alice.run(MY_REQUESTS))["me"]["returnRequests"]] == ["OPEN"]


async def test_bad_requests_get_stable_codes(gateway, tokens, dataset, sandbox, shoppers):
    shopper, _ = member(gateway, tokens, shoppers, 5)
    order = await web_order(shopper, dataset, "requests-web-bad", (1,))
    sku = order["lines"][0]["sku"]
    other_sku = next(s for s in skus_at(dataset, dataset.stores[1].id, 40, 10) if s != sku)
    not_on = await open_request(shopper, order["id"], [{"sku": other_sku, "quantity": 1}], "b1")
    assert [(e["code"], e["field"]) for e in not_on["userErrors"]] == [
        ("LINE_NOT_IN_ORDER", ["lines", "0", "sku"])
    ]
    too_many = await open_request(shopper, order["id"], [{"sku": sku, "quantity": 2}], "b2")
    assert [(e["code"], e["field"]) for e in too_many["userErrors"]] == [
        ("QUANTITY_EXCEEDED", ["lines", "0", "quantity"])
    ]
    zero = await shopper.raw(
        OPEN,
        orderId=order["id"],
        lines=[{"sku": sku, "quantity": 0}],
        reason="OTHER",
        method="SHIP_BACK",
        key="b3",
    )
    assert [e["extensions"]["code"] for e in zero["errors"]] == ["BAD_USER_INPUT"]
    for bad_id in ("", "x" * 129):
        assert codes(await open_request(shopper, bad_id, [{"sku": sku, "quantity": 1}], "b5")) == [
            "ORDER_NOT_FOUND"
        ]
    received = (await staff_at(gateway, tokens, dataset.stores[1].id).run(RECEIVE, id="nope"))[
        "returnRequestReceive"
    ]
    assert codes(received) == ["REQUEST_NOT_FOUND"]

    # a store order not paid at the terminal yet
    store = dataset.stores[3].id
    store_sku = skus_at(dataset, store, 5, 1)[0]
    cart = (await shopper.run(CART_CREATE, lines=[{"sku": store_sku, "quantity": 1}]))["cartCreate"]
    await shopper.run(SET_FULFILLMENT, cartId=cart["cart"]["id"], type="PICKUP", storeId=store)
    till = staff_at(gateway, tokens, store)
    placed = (
        await till.run(CHECKOUT, cartId=cart["cart"]["id"], channel="STORE", key="requests-till")
    )["checkout"]["order"]
    unpaid = await open_request(shopper, placed["id"], [{"sku": store_sku, "quantity": 1}], "b4")
    assert codes(unpaid) == ["NOT_PAID"]


@pytest.mark.parametrize(
    ("who", "mutation", "code"),
    [
        ("staff", "open", "FORBIDDEN"),
        ("kiosk", "open", "FORBIDDEN"),
        ("anonymous", "open", "UNAUTHENTICATED"),
        ("customer", "receive", "FORBIDDEN"),
        ("anonymous", "receive", "UNAUTHENTICATED"),
        ("staff", "cancel", "FORBIDDEN"),
    ],
)
async def test_who_may_open_cancel_and_receive(gateway, tokens, dataset, who, mutation, code):
    headers = {
        "staff": {"authorization": f"Bearer {tokens.staff(dataset.stores[1].id)}"},
        "kiosk": {"authorization": f"Bearer {tokens.kiosk(dataset.stores[1].id, 'kiosk-9')}"},
        "customer": {"authorization": f"Bearer {tokens.customer(dataset.crm_contacts[-12].id)}"},
        "anonymous": {},
    }[who]
    device = Device(gateway, headers)
    if mutation == "open":
        body = await device.raw(
            OPEN,
            orderId="x",
            lines=[{"sku": "x", "quantity": 1}],
            reason="OTHER",
            method="BRING_TO_STORE",
            key="k",
        )
    else:
        body = await device.raw(RECEIVE if mutation == "receive" else CANCEL, id="x")
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]


async def test_the_same_key_replays_the_same_request(gateway, tokens, dataset, sandbox, shoppers):
    shopper, _ = member(gateway, tokens, shoppers, 6)
    order = await web_order(shopper, dataset, "requests-web-replay", (1, 1))
    first, second = (line["sku"] for line in order["lines"])
    lines = [{"sku": first, "quantity": 1}]
    opened = await open_request(shopper, order["id"], lines, "app-replay")
    again = await open_request(shopper, order["id"], lines, "app-replay")
    assert (again["replayed"], again["returnRequest"]) == (True, opened["returnRequest"])
    reused = await open_request(
        shopper, order["id"], [{"sku": second, "quantity": 1}], "app-replay"
    )
    assert [(e["code"], e["field"]) for e in reused["userErrors"]] == [
        ("IDEMPOTENCY_KEY_REUSED", ["idempotencyKey"])
    ]
    assert (
        await collection(gateway, "return_requests").count_documents({"order_id": order["id"]}) == 1
    )
    held = await counters(gateway, order["id"])
    assert [hold["units"] for hold in held["requests"].values()] == [{first: 1}]


async def test_two_opens_of_the_last_unit_at_once_one_wins(
    gateway, tokens, dataset, sandbox, shoppers
):
    shopper, _ = member(gateway, tokens, shoppers, 7)
    phone = Device(gateway, dict(shopper.headers))
    order = await web_order(shopper, dataset, "requests-web-race", (1,))
    lines = [{"sku": order["lines"][0]["sku"], "quantity": 1}]
    answers = await asyncio.gather(
        open_request(shopper, order["id"], lines, "race-a"),
        open_request(phone, order["id"], lines, "race-b"),
    )
    assert sorted(tuple(codes(a)) for a in answers) == [(), ("QUANTITY_EXCEEDED",)]
    winner = next(a["returnRequest"]["id"] for a in answers if a["returnRequest"])
    loser_key = "race-b" if answers[0]["returnRequest"] else "race-a"
    # twins of one key at once: one request; the loser's key recorded nothing
    key = "race-twins"
    twins = await asyncio.gather(
        *(open_request(d, order["id"], lines, key) for d in (shopper, phone))
    )
    assert [codes(t) for t in twins] == [["QUANTITY_EXCEEDED"]] * 2
    assert (
        await collection(gateway, "return_requests").count_documents({"order_id": order["id"]}) == 1
    )
    cancelled = (await shopper.run(CANCEL, id=winner))["returnRequestCancel"]
    assert cancelled["userErrors"] == []
    twins = await asyncio.gather(
        *(open_request(d, order["id"], lines, loser_key) for d in (shopper, phone))
    )
    assert sorted(t["replayed"] for t in twins) == [False, True]
    assert len({t["returnRequest"]["id"] for t in twins}) == 1
    held = await counters(gateway, order["id"])
    assert [hold["units"] for hold in held["requests"].values()] == [{lines[0]["sku"]: 1}]


async def test_a_twin_of_the_key_that_held_the_units_meanwhile_is_answered_as_its_replay(
    gateway, tokens, dataset, sandbox, shoppers
):
    """The second send of a key finds no request yet, then reads the order's counters
    after its twin held the units: it answers the twin's request, not QUANTITY_EXCEEDED
    (the units are held by its own request). The twin is run inside that read."""
    shopper, _ = member(gateway, tokens, shoppers, 7)
    phone = Device(gateway, dict(shopper.headers))
    order = await web_order(shopper, dataset, "requests-web-twin", (1,))
    lines = [{"sku": order["lines"][0]["sku"], "quantity": 1}]
    counters_of = services_of(gateway).return_requests._returns
    read_counters = counters_of.order
    twins: list[dict[str, Any]] = []

    async def read_after_the_twin(order_id: str) -> Any:
        counters_of.order = read_counters  # the twin reads as usual
        twins.append(await open_request(phone, order["id"], lines, "twin-meanwhile"))
        return await read_counters(order_id)

    counters_of.order = read_after_the_twin
    try:
        late = await open_request(shopper, order["id"], lines, "twin-meanwhile")
    finally:
        counters_of.order = read_counters

    [first] = twins
    assert (codes(first), first["replayed"]) == ([], False)
    assert (codes(late), late["replayed"]) == ([], True)
    assert late["returnRequest"]["id"] == first["returnRequest"]["id"]


@contextmanager
def crashing_while_holding(gateway: Any) -> Iterator[None]:
    """The pod dies inside the open's transaction: the request inserted, its hold not yet."""
    store = services_of(gateway).return_requests._requests
    hold = store._hold

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the pod died between the request and its hold")

    store._hold = crash
    try:
        yield
    finally:
        store._hold = hold


async def test_a_crash_while_opening_leaves_nothing_and_the_retry_opens_once(
    gateway, tokens, dataset, sandbox, shoppers
):
    shopper, _ = member(gateway, tokens, shoppers, 8)
    order = await web_order(shopper, dataset, "requests-web-crash-open", (1,))
    lines = [{"sku": order["lines"][0]["sku"], "quantity": 1}]
    variables = {
        "orderId": order["id"],
        "lines": lines,
        "reason": "DEFECTIVE",
        "method": "SHIP_BACK",
        "key": "app-crash",
    }
    with crashing_while_holding(gateway):
        failed = await shopper.raw(OPEN, **variables)
    assert [e["extensions"]["code"] for e in failed["errors"]] == ["INTERNAL_SERVER_ERROR"]
    requests = collection(gateway, "return_requests")
    assert await requests.count_documents({"order_id": order["id"]}) == 0
    assert (await counters(gateway, order["id"]))["requests"] == {}
    retried = (await shopper.run(OPEN, **variables))["returnRequestOpen"]
    assert (retried["userErrors"], retried["replayed"]) == ([], False)
    assert await requests.count_documents({"order_id": order["id"]}) == 1
    assert len((await counters(gateway, order["id"]))["requests"]) == 1


async def test_a_crash_after_the_refund_of_a_received_request_refunds_once(
    gateway, tokens, dataset, sandbox, shoppers
):
    shopper, _ = member(gateway, tokens, shoppers, 9)
    order = await web_order(shopper, dataset, "requests-web-crash-receive", (1,))
    payment = payment_of(sandbox, order)
    sku = order["lines"][0]["sku"]
    request = (await open_request(shopper, order["id"], [{"sku": sku, "quantity": 1}], "app-cr"))[
        "returnRequest"
    ]
    store = dataset.stores[2].id
    before = stock(sandbox, dataset, sku, store)
    till = staff_at(gateway, tokens, store)
    with crashing_after_the_refund(gateway):
        failed = await till.raw(RECEIVE, id=request["id"], damaged=None)
    assert [e["extensions"]["code"] for e in failed["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert len(refunds_of(sandbox, payment)) == 1
    held = await counters(gateway, order["id"])
    assert (held["returned"], held["requests"]) == ({sku: 1}, {}), "converted with the reserve"

    retried = (await till.run(RECEIVE, id=request["id"], damaged=[sku]))["returnRequestReceive"]
    assert (retried["userErrors"], retried["replayed"]) == ([], True)
    assert retried["orderReturn"]["state"] == "COMPLETED"
    (refund,) = refunds_of(sandbox, payment)
    assert retried["orderReturn"]["refundId"] == refund["id"]
    assert stock(sandbox, dataset, sku, store) == before + 1, "restocked once, as first asked"
    assert (await counters(gateway, order["id"]))["returned"] == {sku: 1}


async def test_a_request_and_a_staff_return_of_the_last_unit_at_once_one_wins(
    gateway, tokens, dataset, sandbox, shoppers
):
    shopper, _ = member(gateway, tokens, shoppers, 7)
    order = await web_order(shopper, dataset, "requests-web-race-staff", (1,))
    payment = payment_of(sandbox, order)
    sku = order["lines"][0]["sku"]
    lines = [{"sku": sku, "quantity": 1}]
    till = staff_at(gateway, tokens, dataset.stores[2].id, "staff-race")
    opened, taken = await asyncio.gather(
        open_request(shopper, order["id"], lines, "race-staff"),
        till.run(RETURN, orderId=order["id"], lines=lines, key="req-race-staff"),
    )
    outcomes = sorted([tuple(codes(opened)), tuple(codes(taken["orderReturn"]))])
    assert outcomes == [(), ("QUANTITY_EXCEEDED",)]
    held = await counters(gateway, order["id"])
    units = held["returned"].get(sku, 0) + sum(h["units"][sku] for h in held["requests"].values())
    assert units == 1, "never more than was bought"
    assert len(refunds_of(sandbox, payment)) == held["returned"].get(sku, 0)
