"""`orderChanged`: an order pushed to its owner's devices each time it changes, end to end.

Gateways are served on loopback ports in the test's event loop and share one MongoDB; the
subscriber is a graphql-transport-ws client. Changes come from the sources docs/orders.md
names: Square's signed payment webhook (a store order paid at the terminal), Shopify's
`orders/updated` (sent by the simulator when store staff prepare a pickup order), and
omnigate's own writes (a return refunded at a store).
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from cart_api import CART_CREATE, CHECKOUT, SET_FULFILLMENT, Device, staff_at, stocked_skus
from conftest import GatewayClient
from live_api import Served, live_settings, served, subscribed
from payments_api import CARD_OK, pay_at_terminal
from test_payments import deliver, payment_event
from test_webhooks import SQUARE_KEY

from gateway.local_mongod import free_port
from gateway.webhooks.shopify import shopify_order_gids
from gateway.webhooks.square import square_order_ids
from sandbox.dataset import Dataset

ORDER_CHANGED = """
subscription ($id: ID!) {
  orderChanged(id: $id) { id paymentStatus fulfillmentStatus pickupStatus }
}
"""
ORDER_LINES = "query ($id: ID) { order(id: $id) { lines { sku } } }"
RETURN = """
mutation ($orderId: ID!, $lines: [ReturnLineInput!]!, $key: String!) {
  orderReturn(orderId: $orderId, lines: $lines, idempotencyKey: $key) {
    userErrors { code }
  }
}
"""


@pytest.fixture(scope="module")
def customers(dataset: Dataset) -> list[str]:
    """CRM contacts of people known to every system once, from the middle of the dataset
    (test_payments and test_returns take theirs from its end)."""
    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    in_pos = {c.person_key for c in dataset.pos_customers}
    in_shop = {c.person_key for c in dataset.shop_customers}
    found = [
        contact.id
        for contact in dataset.crm_contacts
        if crm_count[contact.person_key] == 1
        and contact.person_key in in_pos
        and contact.person_key in in_shop
    ]
    middle = len(found) // 2
    return found[middle : middle + 3]


def bearer(tokens: Any, contact: str) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens.customer(contact)}"}


def order_of(message: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in message, message
    return dict(message["data"]["orderChanged"])


async def store_order(http: httpx.AsyncClient, tokens: Any, dataset: Dataset, contact: str) -> str:
    """A pickup cart of `contact` checked out at the store's till: unpaid until the
    terminal takes the money. Its order id."""
    shopper = Device(GatewayClient(http), bearer(tokens, contact))
    store = dataset.stores[2].id
    sku = stocked_skus(dataset, store, 5, 1)[0]
    cart = (await shopper.run(CART_CREATE, lines=[{"sku": sku, "quantity": 2}]))["cartCreate"]
    cart_id = cart["cart"]["id"]
    picked = await shopper.run(SET_FULFILLMENT, cartId=cart_id, type="PICKUP", storeId=store)
    assert picked["cartSetFulfillment"]["userErrors"] == []
    till = staff_at(GatewayClient(http), tokens, store)
    key = f"push-{uuid.uuid4().hex}"
    placed = (await till.run(CHECKOUT, cartId=cart_id, channel="STORE", key=key))["checkout"]
    assert placed["userErrors"] == []
    return str(placed["order"]["id"])


async def deliver_payment(gateway: Served, settings: Any, payment: dict[str, Any]) -> int:
    """Square's signed payment.updated for `payment`, delivered to `gateway`."""
    url = settings.webhooks.square_notification_url
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        return await deliver(GatewayClient(http), payment_event(payment), url)


async def test_a_store_order_paid_at_the_terminal_reaches_its_owner_on_another_pod(
    mongod, sandbox, dataset, tokens, customers, restore_stock
):
    """The webhook lands on pod A, the owner follows the order on pod B; a redelivery that
    changes nothing sends nothing (the next message is the return's); a return taken at a
    store (omnigate's own write) is pushed too."""
    port_a, port_b = free_port(), free_port()
    settings = live_settings(mongod, sandbox, port_a, SQUARE_KEY)
    async with (
        served(settings, port_a) as pod_a,
        served(settings, port_b) as pod_b,
        httpx.AsyncClient(base_url=pod_a.url, timeout=30) as http_a,
    ):
        order_id = await store_order(http_a, tokens, dataset, customers[0])
        owner = bearer(tokens, customers[0])
        async with subscribed(pod_b.ws_url, ORDER_CHANGED, {"id": order_id}, owner) as phone:
            first = order_of(await phone.next())
            assert (first["id"], first["paymentStatus"]) == (order_id, "PENDING")

            payment = await pay_at_terminal(sandbox, order_id)
            assert await deliver_payment(pod_a, settings, payment) == 200
            assert order_of(await phone.next())["paymentStatus"] == "PAID"

            assert await deliver_payment(pod_a, settings, payment) == 200  # sent again
            store = dataset.stores[2].id
            till = staff_at(GatewayClient(http_a), tokens, store)
            order = await till.run(
                "query ($id: ID) { order(id: $id) { lines { sku } } }", id=order_id
            )
            sku = order["order"]["lines"][0]["sku"]
            lines = [{"sku": sku, "quantity": 1}]
            taken = await till.run(RETURN, orderId=order_id, lines=lines, key=f"push-{order_id}")
            assert taken["orderReturn"]["userErrors"] == []
            assert order_of(await phone.next())["paymentStatus"] == "PARTIALLY_REFUNDED"


async def test_an_order_whose_webhook_never_comes_reaches_its_owner_by_the_poll(
    mongod, sandbox, dataset, tokens, customers, restore_stock
):
    """The terminal takes the money and no webhook is delivered (a vendor whose webhooks are
    not subscribed): the follower reads its order once the poll interval passes and sends
    it paid. The reconciler, which would settle the payment and tell followers itself,
    runs at start-up only."""
    port = free_port()
    settings = live_settings(mongod, sandbox, port, SQUARE_KEY, order_poll_interval_seconds=0.5)
    cart = settings.cart.model_copy(update={"reconcile_interval_seconds": 0})
    settings = settings.model_copy(update={"cart": cart})
    async with (
        served(settings, port) as pod,
        httpx.AsyncClient(base_url=pod.url, timeout=30) as http,
    ):
        order_id = await store_order(http, tokens, dataset, customers[2])
        owner = bearer(tokens, customers[2])
        async with subscribed(pod.ws_url, ORDER_CHANGED, {"id": order_id}, owner) as phone:
            assert order_of(await phone.next())["paymentStatus"] == "PENDING"

            await pay_at_terminal(sandbox, order_id)  # and nothing delivered

            assert order_of(await phone.next())["paymentStatus"] == "PAID"


PICKUP_CHECKOUT = """
mutation ($cartId: ID!, $key: String!, $card: String) {
  checkout(cartId: $cartId, channel: WEB, idempotencyKey: $key, paymentToken: $card) {
    order { id pickupStatus }
    userErrors { code message }
  }
}
"""


async def test_shopifys_orders_updated_reaches_the_owner_of_a_pickup_order(
    mongod, sandbox, dataset, tokens, customers
):
    """Store staff prepare a web pickup order in Shopify; the simulator sends
    orders/updated, signed; the owner's subscription shows READY_FOR_PICKUP."""
    port = free_port()
    settings = live_settings(mongod, sandbox, port)
    shopify = sandbox.url("shopify")
    async with (
        served(settings, port) as gateway,
        httpx.AsyncClient(base_url=gateway.url, timeout=30) as http,
        httpx.AsyncClient(base_url=shopify, timeout=30) as admin,
    ):
        shopper = Device(GatewayClient(http), bearer(tokens, customers[1]))
        store = dataset.stores[2].id
        sku = stocked_skus(dataset, store, 5, 1)[0]
        cart = (await shopper.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
        picked = await shopper.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store)
        assert picked["cartSetFulfillment"]["userErrors"] == []
        key = f"push-{uuid.uuid4().hex}"
        checkout = await shopper.run(PICKUP_CHECKOUT, cartId=cart["id"], key=key, card=CARD_OK)
        placed = checkout["checkout"]
        assert placed["userErrors"] == []
        order_id = placed["order"]["id"]
        hook = {"topic": "orders/updated", "address": f"{gateway.url}/webhooks/shopify"}
        assert (await admin.post("/_sandbox/shopify/webhooks", json=hook)).status_code == 200
        try:
            owner = bearer(tokens, customers[1])
            async with subscribed(gateway.ws_url, ORDER_CHANGED, {"id": order_id}, owner) as app:
                assert order_of(await app.next())["pickupStatus"] == "PREPARING"
                control = f"/_sandbox/shopify/orders/{order_id.rsplit('/', 1)[-1]}/pickup"
                ready = await admin.post(control, json={"displayStatus": "READY_FOR_PICKUP"})
                assert ready.json()["deliveries"] == [200]
                assert order_of(await app.next())["pickupStatus"] == "READY_FOR_PICKUP"
        finally:
            await admin.delete("/_sandbox/shopify/webhooks")


@pytest.mark.parametrize(
    ("who", "code"),
    [("stranger", "NOT_FOUND"), ("anonymous", "UNAUTHENTICATED"), ("display", "FORBIDDEN")],
)
async def test_only_the_owner_and_staff_follow_an_order(
    mongod, sandbox, dataset, tokens, customers, who, code
):
    port = free_port()
    settings = live_settings(mongod, sandbox, port)
    store = dataset.stores[2].id
    headers = {
        "stranger": bearer(tokens, customers[2]),
        "anonymous": {},
        "display": {"authorization": f"Bearer {tokens.display(store)}"},
    }[who]
    async with (
        served(settings, port) as gateway,
        httpx.AsyncClient(base_url=gateway.url, timeout=30) as http,
    ):
        order_id = await store_order(http, tokens, dataset, customers[0])
        async with subscribed(gateway.ws_url, ORDER_CHANGED, {"id": order_id}, headers) as sub:
            refused = await sub.next()
        assert refused["data"] is None
        assert [e["extensions"]["code"] for e in refused["errors"]] == [code]
        staff = staff_at(GatewayClient(http), tokens, store).headers
        async with subscribed(gateway.ws_url, ORDER_CHANGED, {"id": order_id}, staff) as sub:
            assert order_of(await sub.next())["id"] == order_id


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"type": "payment.updated", "data": {"object": {"payment": {"order_id": "O1"}}}}, {"O1"}),
        ({"type": "refund.created", "data": {"object": {"refund": {"order_id": "O2"}}}}, {"O2"}),
        (
            {"type": "order.updated", "data": {"object": {"order_updated": {"order_id": "O3"}}}},
            {"O3"},
        ),
        (
            {
                "type": "order.fulfillment.updated",
                "data": {"object": {"order_fulfillment_updated": {"order_id": "O4"}}},
            },
            {"O4"},
        ),
        ({"type": "payment.updated", "data": {"object": {"payment": {}}}}, set()),
        ({"type": "inventory.count.updated", "data": {"object": {}}}, set()),
        ({"type": 7}, set()),
    ],
)
def test_square_events_name_their_order(event: dict[str, Any], expected: set[str]) -> None:
    assert square_order_ids(event) == expected


@pytest.mark.parametrize(
    ("topic", "payload", "expected"),
    [
        ("orders/updated", {"id": 450789469}, {"gid://shopify/Order/450789469"}),
        ("orders/paid", {"id": "gid://shopify/Order/1"}, {"gid://shopify/Order/1"}),
        ("refunds/create", {"id": 9, "order_id": 450789469}, {"gid://shopify/Order/450789469"}),
        ("fulfillments/update", {"order_id": 3}, {"gid://shopify/Order/3"}),
        ("orders/updated", {"id": True}, set()),
        ("products/update", {"id": 5}, set()),
    ],
)
def test_shopify_topics_name_their_order(topic: str, payload: dict[str, Any], expected) -> None:
    assert shopify_order_gids(topic, payload) == expected
