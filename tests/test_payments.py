"""Money that moves once: paid checkouts end to end against the sandbox and a real mongod.

Online (WEB, MOBILE) the card is authorised through Square's Payments API, the order is
placed in Shopify recording the payment as a successful sale, and the payment is captured;
a crash after any step is finished by the retried checkout and, without one, by the
reconciler a gateway runs at start-up. In store the terminal takes the payment and the
order earns its points only once Square says it is paid (a payment webhook, or the
reconciler's poll). docs/payments.md describes what each test holds.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import pytest
from cart_api import (
    APPLY_CODE,
    CART,
    CART_CREATE,
    CHECKOUT,
    SET_FULFILLMENT,
    Device,
    codes,
    known_everywhere,
    staff_at,
)
from cart_api import stocked_skus as skus_at
from conftest import GatewayClient, running_gateway
from offers_api import database_read, newcomers
from payments_api import (
    CARD_BAD_CVV,
    CARD_DECLINED,
    CARD_OK,
    pay_at_terminal,
    payments_for_cart,
    shopify_order,
)
from points_api import Keeper
from test_webhooks import SQUARE_KEY, SQUARE_URL, b64_hmac

from connectors.errors import OrderRejected
from gateway.settings import Settings
from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset

MY_ORDERS = "query { me { orders(first: 50) { edges { node { id } } } } }"
DECLINE = """
mutation ($cartId: ID!, $key: String!, $paymentToken: String) {
  checkout(cartId: $cartId, channel: WEB, idempotencyKey: $key, paymentToken: $paymentToken) {
    replayed order { id } cart { id status version lines { sku quantity } }
    userErrors { field message code reason }
  }
}
"""


@pytest.fixture(scope="module")
def buyers(dataset: Dataset) -> list[str]:
    found = known_everywhere(dataset)
    assert len(found) >= 20
    return found[10:]  # past the first ones test_checkout.py's buyers take


@pytest.fixture
def buyer(gateway, tokens, buyers, request) -> Device:
    index = list(request.module.__dict__).index(request.function.__name__) % len(buyers)
    return Device(gateway, {"authorization": f"Bearer {tokens.customer(buyers[index])}"})


def services_of(gateway: GatewayClient) -> Any:
    return gateway.http._transport.app.state.services


def checkouts(gateway: GatewayClient) -> Any:
    services = services_of(gateway)
    return services.mongo[services.settings.mongodb_database]["checkouts"]


async def order_count(device: Device) -> int:
    return len((await device.run(MY_ORDERS))["me"]["orders"]["edges"])


async def web_cart(device: Device, dataset: Dataset, count: int = 2) -> dict[str, Any]:
    skus = skus_at(dataset, WAREHOUSE_LOCATION_ID, 20, count)
    lines = [{"sku": sku, "quantity": 1 + i} for i, sku in enumerate(skus)]
    created = (await device.run(CART_CREATE, lines=lines))["cartCreate"]
    assert created["userErrors"] == []
    return dict(created["cart"])


def cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


def assert_paid_once(sandbox, cart_id: str, order: dict[str, Any]) -> dict[str, Any]:
    """One Square payment for the cart, COMPLETED for the order's total, and the Shopify
    order recording it as a successful sale through Square."""
    payments = payments_for_cart(sandbox, cart_id)
    assert len(payments) == 1, payments
    (payment,) = payments
    assert payment["status"] == "COMPLETED"
    assert payment["card_details"]["status"] == "CAPTURED"
    assert payment["amount_money"] == {"amount": cents(order["total"]["amount"]), "currency": "USD"}
    placed = shopify_order(sandbox, order["id"])
    assert placed["displayFinancialStatus"] == "PAID"
    assert [
        (
            t["kind"],
            t["status"],
            t["gateway"],
            t["authorizationCode"],
            Decimal(t["amountSet"]["shopMoney"]["amount"]),
        )
        for t in placed["transactions"]
    ] == [("SALE", "SUCCESS", "square", payment["id"], Decimal(order["total"]["amount"]))]
    return payment


async def test_a_web_checkout_is_paid_once_and_its_order_records_the_payment(
    buyer, gateway, dataset, sandbox
):
    cart = await web_cart(buyer, dataset)
    before = await order_count(buyer)
    placed = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="paid-1"))["checkout"]
    assert placed["userErrors"] == []
    assert placed["cart"]["status"] == "CHECKED_OUT"
    payment = assert_paid_once(sandbox, cart["id"], placed["order"])
    again = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="paid-1"))["checkout"]
    assert again["replayed"] is True
    assert again["order"]["id"] == placed["order"]["id"]
    assert_paid_once(sandbox, cart["id"], placed["order"])
    assert await order_count(buyer) == before + 1
    record = await checkouts(gateway).find_one({"cart_id": cart["id"]})
    assert (record["payment_state"], record["payment_id"], record["paid"], record["settled"]) == (
        "CAPTURED",
        payment["id"],
        True,
        True,
    )
    assert "payment_token" not in record, "the card token is dropped once the money moved"


@pytest.mark.parametrize(
    ("token", "reason"), [(CARD_DECLINED, "CARD_DECLINED"), (CARD_BAD_CVV, "CVV_FAILURE")]
)
async def test_a_declined_card_places_nothing_and_keeps_the_cart(
    buyer, dataset, sandbox, token, reason
):
    cart = await web_cart(buyer, dataset)
    before = await order_count(buyer)
    key = f"declined-{reason}"
    refused = (await buyer.run(DECLINE, cartId=cart["id"], key=key, paymentToken=token))["checkout"]
    [error] = refused["userErrors"]
    assert (error["code"], error["reason"], error["field"]) == (
        "PAYMENT_DECLINED",
        reason,
        ["paymentToken"],
    )
    assert "Authorization error" not in error["message"], "Square's words stay in the logs"
    assert refused["order"] is None
    assert refused["cart"]["status"] == "OPEN"
    assert refused["cart"]["lines"] == [
        {"sku": line["sku"], "quantity": line["quantity"]} for line in cart["lines"]
    ]
    assert await order_count(buyer) == before
    assert payments_for_cart(sandbox, cart["id"]) == []
    replayed = (await buyer.run(DECLINE, cartId=cart["id"], key=key, paymentToken=token))[
        "checkout"
    ]
    assert replayed["replayed"] is True
    assert codes(replayed) == ["PAYMENT_DECLINED"]
    # another card, under a new key: the intact cart is bought and paid once
    paid = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="WEB", key=f"{key}-again"))[
        "checkout"
    ]
    assert paid["userErrors"] == []
    assert_paid_once(sandbox, cart["id"], paid["order"])


async def test_online_needs_a_card_token_and_the_till_takes_none(
    buyer, gateway, tokens, dataset, sandbox
):
    cart = await web_cart(buyer, dataset, count=1)
    sandbox.reset_calls()
    missing = (await buyer.run(DECLINE, cartId=cart["id"], key="no-card", paymentToken=None))[
        "checkout"
    ]
    assert [(e["code"], e["field"]) for e in missing["userErrors"]] == [
        ("PAYMENT_REQUIRED", ["paymentToken"])
    ]
    # priced to learn that something is due, and nothing more: no attempt, no payment
    assert await checkouts(gateway).count_documents({"cart_id": cart["id"]}) == 0
    assert payments_for_cart(sandbox, cart["id"]) == []
    till = staff_at(gateway, tokens, dataset.stores[0].id)
    card_at_till = (
        await till.run(
            CHECKOUT, cartId=cart["id"], channel="STORE", key="till", paymentToken="cnon:x"
        )
    )["checkout"]
    assert codes(card_at_till) == ["PAYMENT_NOT_ACCEPTED"]
    assert (await buyer.run(CART, id=cart["id"]))["cart"]["status"] == "OPEN"


APPLY_POINTS = """
mutation ($cartId: ID!, $points: Int!) {
  cartApplyLoyaltyPoints(cartId: $cartId, points: $points) {
    cart { cost { total { amount } } } userErrors { code }
  }
}
"""


def member_with_points(dataset: Dataset, contacts: list[str], at_least: int) -> str:
    """A CRM contact among `contacts` whose POS loyalty account holds `at_least` points."""
    person_of = {c.id: c.person_key for c in dataset.crm_contacts}
    pos_of = {c.person_key: c.id for c in dataset.pos_customers}
    balances = {a.customer_id: a.balance for a in dataset.loyalty_accounts}
    return next(
        contact
        for contact in contacts
        if balances.get(pos_of.get(person_of[contact], ""), 0) >= at_least
    )


async def test_a_cart_paid_in_full_with_points_needs_no_card(
    make_gateway, settings: Settings, tokens, dataset, buyers, sandbox
):
    """A zero total charges nothing: no paymentToken is asked for, no payment is made,
    and the order is placed once, a retry answering it again."""
    generous = settings.model_copy(
        update={"offers": settings.offers.model_copy(update={"point_value": Decimal(1)})}
    )
    contact = member_with_points(dataset, buyers[::-1], 300)
    sku = next(
        sku
        for sku in skus_at(dataset, WAREHOUSE_LOCATION_ID, 5, 50)
        if dataset.products_by_sku[sku].price < 300
    )
    async with make_gateway(generous) as gateway:
        shopper = Device(gateway, {"authorization": f"Bearer {tokens.customer(contact)}"})
        created = (await shopper.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]
        cart_id = created["cart"]["id"]
        points = int(dataset.products_by_sku[sku].price) + 1
        applied = (await shopper.run(APPLY_POINTS, cartId=cart_id, points=points))[
            "cartApplyLoyaltyPoints"
        ]
        assert applied["userErrors"] == []
        assert applied["cart"]["cost"]["total"]["amount"] == "0.00"
        placed = [
            (await shopper.run(DECLINE, cartId=cart_id, key="all-points", paymentToken=None))[
                "checkout"
            ]
            for _ in range(2)
        ]
    assert [p["userErrors"] for p in placed] == [[], []]
    assert placed[0]["order"]["id"] == placed[1]["order"]["id"]
    assert placed[1]["replayed"] is True
    assert payments_for_cart(sandbox, cart_id) == []


# -- crashes between the steps -------------------------------------------------------------

HOOKS = ("after_payment_authorised", "after_upstream_order", "after_order_recorded")


@pytest.fixture
def reconciling(settings: Settings) -> Settings:
    """The same database and sandbox, with a reconciler that takes on any unsettled attempt
    at start-up, and only then."""
    return settings.with_changes(
        cart={"reconcile_grace_seconds": 0, "reconcile_interval_seconds": 0}
    )


@asynccontextmanager
async def restarted(settings: Settings) -> AsyncIterator[GatewayClient]:
    """Another gateway process starting on the same database: its start-up reconciler has
    done its pass when this yields."""
    async with running_gateway(settings) as client:
        await services_of(client).checkout_reconciler.first_pass_done.wait()
        yield client


@pytest.mark.parametrize("recovery", ["retry", "reconciler"])
@pytest.mark.parametrize("hook", HOOKS)
async def test_a_crash_between_any_two_steps_ends_with_one_charge_and_one_order(
    buyer, gateway, dataset, sandbox, reconciling, monkeypatch, hook, recovery
):
    cart = await web_cart(buyer, dataset, count=1)
    before = await order_count(buyer)
    service = services_of(gateway).checkout

    async def crash(record: Any) -> None:
        raise RuntimeError(f"the pod died {hook}")

    monkeypatch.setattr(service, hook, crash)
    key = f"crash-{hook}-{recovery}"
    crashed = await buyer.raw(CHECKOUT, cartId=cart["id"], channel="WEB", key=key)
    assert crashed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    monkeypatch.undo()
    # where the crash left things: the money held, never taken without a recorded order
    [held] = payments_for_cart(sandbox, cart["id"])
    assert held["status"] == "APPROVED"
    placed_already = hook != "after_payment_authorised"
    assert await order_count(buyer) == before + placed_already
    if recovery == "reconciler":
        async with restarted(reconciling) as other:
            other_buyer = Device(other, buyer.headers)
            assert await order_count(other_buyer) == before + 1
        record = await checkouts(gateway).find_one({"cart_id": cart["id"]})
        assert (record["state"], record["payment_state"], record["settled"]) == (
            "COMPLETED",
            "CAPTURED",
            True,
        )
        frozen = (await buyer.run(CART, id=cart["id"]))["cart"]
        assert frozen["status"] == "CHECKED_OUT"
    retried = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="WEB", key=key))["checkout"]
    assert retried["userErrors"] == []
    assert retried["cart"]["status"] == "CHECKED_OUT"
    assert_paid_once(sandbox, cart["id"], retried["order"])
    assert await order_count(buyer) == before + 1


async def test_the_same_key_sent_at_once_to_two_pods_charges_once(
    buyer, gateway, settings, dataset, sandbox
):
    cart = await web_cart(buyer, dataset)
    before = await order_count(buyer)
    async with running_gateway(settings) as second_pod:
        other = Device(second_pod, buyer.headers)
        answers = await asyncio.gather(
            *(
                device.raw(CHECKOUT, cartId=cart["id"], channel="WEB", key="twins")
                for device in (buyer, other, buyer, other)
            )
        )
    placed = [a["data"]["checkout"] for a in answers if a.get("data") and a["data"]["checkout"]]
    orders = {p["order"]["id"] for p in placed if p["order"] is not None}
    assert len(orders) <= 1
    # a twin that lost a race may be told to retry; the retry settles it
    final = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="twins"))["checkout"]
    assert final["userErrors"] == []
    assert orders <= {final["order"]["id"]}
    assert_paid_once(sandbox, cart["id"], final["order"])
    assert await order_count(buyer) == before + 1


# -- in store: paid at the terminal, points once Square says so -----------------------------


@pytest.fixture(scope="module")
def members(dataset: Dataset) -> list[tuple[str, str]]:
    """(CRM contact id, loyalty account id) of people known everywhere with a loyalty
    account, from the end of the dataset (test_loyalty.py takes the first ones)."""
    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    pos_by_person = {c.person_key: c.id for c in dataset.pos_customers}
    shop = {c.person_key for c in dataset.shop_customers}
    accounts = {a.customer_id: a for a in dataset.loyalty_accounts}
    found = []
    for contact in reversed(dataset.crm_contacts):
        pos_id = pos_by_person.get(contact.person_key)
        account = accounts.get(pos_id) if pos_id else None
        if crm_count[contact.person_key] == 1 and contact.person_key in shop and account:
            found.append((contact.id, account.id))
    assert len(found) >= 3
    return found


@pytest.fixture
def hooked_settings(reconciling: Settings) -> Settings:
    return reconciling.with_changes(
        webhooks={"square_signature_key": SQUARE_KEY, "square_notification_url": SQUARE_URL}
    )


async def store_order(
    gateway, tokens, dataset, members, index: int, keeper: Keeper
) -> tuple[dict[str, Any], str, Device]:
    contact, account = members[index]
    shopper = Device(gateway, {"authorization": f"Bearer {tokens.customer(contact)}"})
    store = dataset.stores[2].id
    sku = skus_at(dataset, store, 5, 1)[0]
    cart = (await shopper.run(CART_CREATE, lines=[{"sku": sku, "quantity": 2}]))["cartCreate"]
    picked = await shopper.run(
        SET_FULFILLMENT, cartId=cart["cart"]["id"], type="PICKUP", storeId=store
    )
    assert picked["cartSetFulfillment"]["userErrors"] == []
    till = staff_at(gateway, tokens, store)
    placed = (
        await till.run(
            CHECKOUT,
            cartId=cart["cart"]["id"],
            channel="STORE",
            key=keeper.key(f"payments-till-{index}"),
        )
    )["checkout"]
    assert placed["userErrors"] == []
    return placed["order"], account, shopper


async def kept_by(keeper: Keeper, settings: Settings) -> Settings:
    """`settings` with this run's keeper of points, its accounts open."""
    chosen = keeper.settings(settings)
    await keeper.seed(chosen)
    return chosen


async def points_of(keeper: Keeper, account: str) -> int:
    return (await keeper.balance(account))[0]


def payment_event(payment: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "merchant_id": "MLSANDBOX",
            "type": "payment.updated",
            "event_id": str(uuid.uuid4()),
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "data": {"type": "payment", "id": payment["id"], "object": {"payment": payment}},
        }
    ).encode()


async def deliver(gateway: GatewayClient, raw: bytes, url: str = SQUARE_URL) -> int:
    """Square's event `raw` signed for the notification `url`, delivered to `gateway`."""
    headers = {
        "content-type": "application/json",
        "x-square-hmacsha256-signature": b64_hmac(SQUARE_KEY, url.encode() + raw),
    }
    answer = await gateway.http.post("/webhooks/square", content=raw, headers=headers)
    return answer.status_code


async def test_a_store_order_earns_its_points_when_square_says_it_is_paid(
    hooked_settings, tokens, dataset, sandbox, members, points
):
    """With either keeper of points (tests/points_api.py): Square Loyalty or the ledger."""
    async with running_gateway(await kept_by(points, hooked_settings)) as gateway:
        before = await points_of(points, members[0][1])
        order, account, _ = await store_order(gateway, tokens, dataset, members, 0, points)
        assert await points_of(points, account) == before, "no points on an unpaid order"
        # a forged claim that it is paid: Square is asked, says no, nothing is earned
        claimed = {"id": "forged", "status": "COMPLETED", "order_id": order["id"]}
        assert await deliver(gateway, payment_event(claimed)) == 200
        assert await points_of(points, account) == before
        payment = await pay_at_terminal(sandbox, order["id"])
        assert await deliver(gateway, payment_event(payment)) == 200
        earned = int(Decimal(order["total"]["amount"]).to_integral_value(rounding=ROUND_FLOOR))
        assert earned > 0
        assert await points_of(points, account) == before + earned
        assert await deliver(gateway, payment_event(payment)) == 200, "Square sends it again"
        assert await points_of(points, account) == before + earned
        record = await checkouts(gateway).find_one({"order.ref.id": order["id"]})
        assert (record["paid"], record["points_earned"], record["settled"]) == (True, earned, True)


async def test_a_store_orders_referral_is_rewarded_once_square_says_it_is_paid(
    hooked_settings, tokens, dataset, sandbox
):
    """A friend's first order, placed at a till with the referrer's code: no voucher while
    the terminal has not taken the money, one each once Square says it is paid, and no
    more when Square says so again."""
    referrer_id, friend_id = dataset.crm_contacts[-70].id, newcomers(dataset)[210]
    store = dataset.stores[2].id
    sku = skus_at(dataset, store, 5, 1)[0]

    async def vouchers() -> int:
        owners = {"customer_id": {"$in": [referrer_id, friend_id]}}
        return len(await database_read(hooked_settings, "promotions", owners))

    async with running_gateway(hooked_settings) as gateway:
        referrer = Device(gateway, {"authorization": f"Bearer {tokens.customer(referrer_id)}"})
        friend = Device(gateway, {"authorization": f"Bearer {tokens.customer(friend_id)}"})
        code = (await referrer.run("{ referralCode }"))["referralCode"]
        cart = (await friend.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
        applied = (await friend.run(APPLY_CODE, cartId=cart["id"], code=code))["cartApplyPromoCode"]
        assert applied["userErrors"] == []
        picked = await friend.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store)
        assert picked["cartSetFulfillment"]["userErrors"] == []
        till = staff_at(gateway, tokens, store)
        placed = (
            await till.run(CHECKOUT, cartId=cart["id"], channel="STORE", key="referral-at-till")
        )["checkout"]
        assert placed["userErrors"] == []
        assert await vouchers() == 0, "rewarded before the order was paid"
        payment = await pay_at_terminal(sandbox, placed["order"]["id"])
        assert await deliver(gateway, payment_event(payment)) == 200
        assert await vouchers() == 2
        assert await deliver(gateway, payment_event(payment)) == 200, "Square sends it again"
        assert await vouchers() == 2


async def test_a_store_order_paid_without_a_webhook_earns_on_the_reconcilers_poll(
    settings, reconciling, tokens, dataset, sandbox, members, points
):
    async with running_gateway(await kept_by(points, settings)) as gateway:
        order, account, _ = await store_order(gateway, tokens, dataset, members, 1, points)
    reconciling = points.settings(reconciling)
    before = await points_of(points, account)
    async with restarted(reconciling):
        pass
    assert await points_of(points, account) == before, "polled before it was paid: nothing earned"
    await pay_at_terminal(sandbox, order["id"])
    async with restarted(reconciling):
        pass
    earned = int(Decimal(order["total"]["amount"]).to_integral_value(rounding=ROUND_FLOOR))
    assert await points_of(points, account) == before + earned
    async with restarted(reconciling):
        pass
    assert await points_of(points, account) == before + earned, (
        "a settled order is not polled again"
    )


async def test_a_refused_order_releases_the_hold_and_is_never_placed_on_it_later(
    buyer, gateway, dataset, sandbox, monkeypatch
):
    cart = await web_cart(buyer, dataset, count=1)
    before = await order_count(buyer)
    service = services_of(gateway).checkout

    async def refuse(draft: Any) -> Any:
        raise OrderRejected("shopify", "shopify.place_order", "refused")

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the pod died after releasing the hold")

    monkeypatch.setattr(service._ecommerce, "place_order", refuse)
    refused = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="refused"))[
        "checkout"
    ]
    assert codes(refused) == ["ORDER_REJECTED"]
    assert refused["cart"]["status"] == "OPEN"
    [released] = payments_for_cart(sandbox, cart["id"])
    assert (released["status"], released["card_details"]["status"]) == ("CANCELED", "VOIDED")

    # again under a new key, crashing after the release, before the refusal is recorded;
    # the shop would take the order now, but never on a released hold
    monkeypatch.setattr(service, "_refused", crash)
    crashed = await buyer.raw(CHECKOUT, cartId=cart["id"], channel="WEB", key="refused-2")
    assert crashed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    monkeypatch.undo()
    retried = (await buyer.run(CHECKOUT, cartId=cart["id"], channel="WEB", key="refused-2"))[
        "checkout"
    ]
    assert codes(retried) == ["ORDER_REJECTED"]
    assert retried["cart"]["status"] == "OPEN"
    assert [p["status"] for p in payments_for_cart(sandbox, cart["id"])] == ["CANCELED"] * 2
    assert await order_count(buyer) == before


async def test_a_crash_after_a_decline_replays_the_decline(
    buyer, gateway, dataset, sandbox, monkeypatch
):
    cart = await web_cart(buyer, dataset, count=1)
    service = services_of(gateway).checkout

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the pod died before recording the decline")

    monkeypatch.setattr(service, "_refused", crash)
    crashed = await buyer.raw(
        DECLINE, cartId=cart["id"], key="declined-crash", paymentToken=CARD_DECLINED
    )
    assert crashed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    monkeypatch.undo()
    # the retry carries another card: the first call's card is the attempt's
    retried = (
        await buyer.run(DECLINE, cartId=cart["id"], key="declined-crash", paymentToken=CARD_OK)
    )["checkout"]
    assert [(e["code"], e["reason"]) for e in retried["userErrors"]] == [
        ("PAYMENT_DECLINED", "CARD_DECLINED")
    ]
    assert retried["cart"]["status"] == "OPEN"
    assert payments_for_cart(sandbox, cart["id"]) == []
