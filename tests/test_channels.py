"""The sales channel is the principal's, not the client's word (docs/security.md "Sales
channels"): each kind of principal asks checkout, Cart.quote, Cart.cost, cartApplyPromoCode,
cartApplyLoyaltyPoints and offers on each channel; the channels it acts on answer, any other
is refused with CHANNEL_NOT_ALLOWED before anything is read upstream."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from cart_api import CART_CREATE, HANDOFF_CREATE, paid, stock_at

from commerce.offers import SalesChannel, allowed_channels
from gateway.auth import Principal, PrincipalKind
from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset

VENDORS = ("square", "shopify", "salesforce")
CHANNELS = ("WEB", "MOBILE", "STORE", "KIOSK")

ANONYMOUS = "anonymous"
GUEST = "guest"  # the guest cart's X-Cart-Token
CUSTOMER = "customer"  # the customer's own token
KIOSK = "kiosk"  # a kiosk device, a guest shopping there with their cart token
HANDOFF = "kiosk_handoff"  # the kiosk the customer handed their identity to
STAFF = "staff"  # a till of the store
ALLOWED = {
    ANONYMOUS: {"WEB", "MOBILE"},
    GUEST: {"WEB", "MOBILE"},
    CUSTOMER: {"WEB", "MOBILE"},
    KIOSK: {"KIOSK"},
    HANDOFF: {"KIOSK"},
    STAFF: {"STORE"},
}
WITH_A_CART = (GUEST, CUSTOMER, KIOSK, HANDOFF, STAFF)
CASES = [(who, channel) for who in ALLOWED for channel in CHANNELS]
CART_CASES = [(who, channel) for who, channel in CASES if who in WITH_A_CART]

OFFERS = "query ($c: SalesChannel) { offers(channel: $c) { promotionId } }"
QUOTE = """
query ($id: ID!, $c: SalesChannel) {
  cart(id: $id) { id quote(channel: $c) { token channel total { amount } } }
}
"""
COST = """
query ($id: ID!, $c: SalesChannel) { cart(id: $id) { id cost(channel: $c) { total { amount } } } }
"""
APPLY = """
mutation ($id: ID!, $c: SalesChannel) {
  cartApplyPromoCode(cartId: $id, code: "NO-SUCH-CODE", channel: $c) {
    cart { id } userErrors { field code }
  }
}
"""
POINTS = """
mutation ($id: ID!, $c: SalesChannel) {
  cartApplyLoyaltyPoints(cartId: $id, points: 0, channel: $c) {
    cart { id } userErrors { field code }
  }
}
"""
CHECKOUT = """
mutation ($id: ID!, $c: SalesChannel!, $key: String!, $quote: String, $paymentToken: String) {
  checkout(
    cartId: $id, channel: $c, idempotencyKey: $key, quote: $quote, paymentToken: $paymentToken
  ) {
    order { id channel store { id } } cart { id status } userErrors { field code }
  }
}
"""


def upstream_calls(sandbox) -> int:
    return sum(sandbox.total_calls(vendor) for vendor in VENDORS)


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["userErrors"]]


@dataclass
class Shoppers:
    gateway: Any
    headers: dict[str, dict[str, str]]
    carts: dict[str, str]  # who -> a cart that principal reaches
    store: str

    async def ask(self, who: str, document: str, **variables: Any) -> Any:
        # an online checkout pays with the Sandbox's good card, as its payment form would
        return await self.gateway.query(
            document, paid(document, variables), headers=self.headers[who]
        )


def lone_customer(dataset: Dataset, offset: int) -> str:
    """A CRM contact known to the POS and the online shop, one record per person."""
    crm_count = Counter(c.person_key for c in dataset.crm_contacts)
    pos = {c.person_key for c in dataset.pos_customers}
    shop = {c.person_key for c in dataset.shop_customers}
    found = [
        c.id
        for c in dataset.crm_contacts
        if crm_count[c.person_key] == 1 and c.person_key in pos and c.person_key in shop
    ]
    return found[len(found) // 2 + offset]


async def new_cart(gateway: Any, headers: dict[str, str], sku: str) -> tuple[str, str | None]:
    body = await gateway.query(CART_CREATE, {"lines": [{"sku": sku}]}, headers=headers)
    assert "errors" not in body, body
    payload = body["data"]["cartCreate"]
    assert payload["userErrors"] == [], payload
    return payload["cart"]["id"], payload["cartToken"]


async def shoppers_at(gateway, tokens, dataset: Dataset, offset: int) -> Shoppers:
    """Every kind of principal, each with a fresh cart it reaches (one SKU stocked both
    online and at the store, so an order can be placed on any channel)."""
    store = str(dataset.stores[2].id)
    sku = next(
        product.sku
        for product in dataset.products
        if stock_at(dataset, product.sku, store) >= 20
        and stock_at(dataset, product.sku, WAREHOUSE_LOCATION_ID) >= 20
    )
    customer = {"authorization": f"Bearer {tokens.customer(lone_customer(dataset, offset))}"}
    handed = await gateway.query(HANDOFF_CREATE, {"storeId": store}, headers=customer)
    assert "errors" not in handed, handed
    kiosk = {"authorization": f"Bearer {tokens.kiosk(store, f'kiosk-channels-{offset}')}"}
    headers = {
        ANONYMOUS: {},
        CUSTOMER: customer,
        HANDOFF: {
            **kiosk,
            "x-handoff-token": handed["data"]["kioskHandoffCreate"]["handoff"]["token"],
        },
        STAFF: {"authorization": f"Bearer {tokens.staff(store, f'staff-channels-{offset}')}"},
    }
    guest_cart, guest_token = await new_cart(gateway, {}, sku)
    kiosk_cart, kiosk_token = await new_cart(gateway, {}, sku)
    assert guest_token
    assert kiosk_token
    headers[GUEST] = {"x-cart-token": guest_token}
    headers[KIOSK] = {**kiosk, "x-cart-token": kiosk_token}
    customer_cart, _ = await new_cart(gateway, customer, sku)
    carts = {
        GUEST: guest_cart,
        KIOSK: kiosk_cart,
        CUSTOMER: customer_cart,
        HANDOFF: customer_cart,
        STAFF: customer_cart,
    }
    return Shoppers(gateway, headers, carts, store)


@pytest.fixture
async def shoppers(gateway, tokens, dataset) -> Shoppers:
    return await shoppers_at(gateway, tokens, dataset, 0)


def test_the_rule_in_one_place():
    def kind(kind: PrincipalKind, **more: Any) -> set[str]:
        return {c.value for c in allowed_channels(Principal(kind, "someone", **more))}

    assert kind(PrincipalKind.ANONYMOUS) == ALLOWED[ANONYMOUS]
    assert kind(PrincipalKind.ANONYMOUS, cart_token="t") == ALLOWED[GUEST]
    assert kind(PrincipalKind.CUSTOMER, cart_token="t") == ALLOWED[CUSTOMER]
    assert kind(PrincipalKind.KIOSK, store_id="S1") == ALLOWED[KIOSK]
    assert kind(PrincipalKind.KIOSK, store_id="S1", handoff_customer_id="C1") == ALLOWED[HANDOFF]
    assert kind(PrincipalKind.STAFF, store_id="S1") == ALLOWED[STAFF]
    # every kind gets at least its default channel, and no kind both an online and a store one
    for each in PrincipalKind:
        got = allowed_channels(Principal(each, "someone", store_id="S1"))
        assert got
        assert len({c.in_store for c in got}) == 1
    assert SalesChannel.WEB in allowed_channels(Principal())


async def test_offers_on_each_channel(shoppers, sandbox):
    wrong = []
    for who, channel in CASES:
        sandbox.reset_calls()
        body = await shoppers.ask(who, OFFERS, c=channel)
        calls = upstream_calls(sandbox)
        if channel in ALLOWED[who]:
            if "errors" in body:
                wrong.append(f"{who} {channel}: {body['errors']}")
        elif error_codes(body) != ["CHANNEL_NOT_ALLOWED"] or calls:
            wrong.append(f"{who} {channel}: {error_codes(body)}, {calls} upstream calls")
    assert wrong == []


@pytest.mark.parametrize("document", [QUOTE, COST], ids=["quote", "cost"])
async def test_a_cart_is_priced_and_quoted_only_on_the_callers_channels(
    shoppers, sandbox, document
):
    field = "quote" if document is QUOTE else "cost"
    wrong = []
    for who, channel in CART_CASES:
        sandbox.reset_calls()
        body = await shoppers.ask(who, document, id=shoppers.carts[who], c=channel)
        calls = upstream_calls(sandbox)
        cart = (body.get("data") or {}).get("cart")
        if channel in ALLOWED[who]:
            if "errors" in body or cart is None or cart[field] is None:
                wrong.append(f"{who} {channel}: {body}")
            elif field == "quote" and cart["quote"]["channel"] != channel:
                wrong.append(f"{who} {channel}: quoted for {cart['quote']['channel']}")
        elif (
            error_codes(body) != ["CHANNEL_NOT_ALLOWED"]
            or body["errors"][0]["path"] != ["cart", field]
            or calls
        ):
            wrong.append(f"{who} {channel}: {error_codes(body)}, {calls} upstream calls")
    assert wrong == []


async def test_a_code_is_applied_only_on_the_callers_channels(shoppers, sandbox):
    wrong = []
    for who, channel in CART_CASES:
        sandbox.reset_calls()
        body = await shoppers.ask(who, APPLY, id=shoppers.carts[who], c=channel)
        calls = upstream_calls(sandbox)
        payload = body["data"]["cartApplyPromoCode"]
        if channel in ALLOWED[who]:
            # reached the cart and looked the code up: the channel was not in the way
            if codes(payload) != ["PROMO_NOT_APPLICABLE"] or payload["cart"] is None:
                wrong.append(f"{who} {channel}: {payload}")
        elif payload["userErrors"] != [{"field": ["channel"], "code": "CHANNEL_NOT_ALLOWED"}] or (
            calls
        ):
            wrong.append(f"{who} {channel}: {payload}, {calls} upstream calls")
    assert wrong == []


async def test_points_are_applied_only_on_the_callers_channels(shoppers, sandbox):
    wrong = []
    for who, channel in CART_CASES:
        sandbox.reset_calls()
        body = await shoppers.ask(who, POINTS, id=shoppers.carts[who], c=channel)
        calls = upstream_calls(sandbox)
        payload = body["data"]["cartApplyLoyaltyPoints"]
        if channel in ALLOWED[who]:
            if payload["userErrors"] != [] or payload["cart"] is None:
                wrong.append(f"{who} {channel}: {payload}")
        elif (
            payload
            != {
                "cart": None,
                "userErrors": [{"field": ["channel"], "code": "CHANNEL_NOT_ALLOWED"}],
            }
            or calls
        ):
            wrong.append(f"{who} {channel}: {payload}, {calls} upstream calls")
    assert wrong == []


async def test_checkout_is_refused_on_another_channel_before_anything_is_read(shoppers, sandbox):
    wrong = []
    for who, channel in CART_CASES:
        if channel in ALLOWED[who]:
            continue
        sandbox.reset_calls()
        body = await shoppers.ask(
            who, CHECKOUT, id=shoppers.carts[who], c=channel, key=f"channels-{who}-{channel}"
        )
        calls = upstream_calls(sandbox)
        payload = body["data"]["checkout"]
        expected = [{"field": ["channel"], "code": "CHANNEL_NOT_ALLOWED"}]
        if payload["userErrors"] != expected or payload["order"] is not None or calls:
            wrong.append(f"{who} {channel}: {payload}, {calls} upstream calls")
    assert wrong == []
    # nothing was frozen or placed: every cart is still open
    for who in WITH_A_CART:
        body = await shoppers.ask(
            who, "query ($id: ID!) { cart(id: $id) { status } }", id=shoppers.carts[who]
        )
        assert body["data"]["cart"]["status"] == "OPEN"


@pytest.mark.parametrize(
    ("who", "channel"),
    [(who, channel) for who, channel in CART_CASES if channel in ALLOWED[who]],
)
async def test_checkout_places_the_order_on_each_allowed_channel(
    gateway, tokens, dataset, who, channel
):
    offset = 1 + [c for c in CART_CASES if c[1] in ALLOWED[c[0]]].index((who, channel))
    shoppers = await shoppers_at(gateway, tokens, dataset, offset)
    body = await shoppers.ask(who, CHECKOUT, id=shoppers.carts[who], c=channel, key="channels")
    payload = body["data"]["checkout"]
    assert payload["userErrors"] == [], payload
    assert payload["cart"]["status"] == "CHECKED_OUT"
    order = payload["order"]
    if channel in ("STORE", "KIOSK"):
        assert order["channel"] == "STORE"
        assert order["store"] == {"id": shoppers.store}
    else:
        assert order["channel"] == "ONLINE"


async def test_the_apps_quote_is_honoured_at_the_till_and_no_one_quotes_a_kiosk_price(
    shoppers,
):
    """A quote's channel is one its issuer acts on, so any channel may honour it: the app's
    MOBILE quote is charged at the till, while the customer's own token cannot get a KIOSK
    quote (kiosk-only promotions) to take to a web checkout."""
    cart = shoppers.carts[CUSTOMER]
    refused = await shoppers.ask(CUSTOMER, QUOTE, id=cart, c="KIOSK")
    assert error_codes(refused) == ["CHANNEL_NOT_ALLOWED"]
    app = (await shoppers.ask(CUSTOMER, QUOTE, id=cart, c="MOBILE"))["data"]["cart"]["quote"]
    assert app["channel"] == "MOBILE"
    body = await shoppers.ask(
        STAFF, CHECKOUT, id=cart, c="STORE", key="channels-till", quote=app["token"]
    )
    payload = body["data"]["checkout"]
    assert payload["userErrors"] == [], payload
    assert payload["order"]["channel"] == "STORE"
