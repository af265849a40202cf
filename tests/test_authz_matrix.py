"""The authorization matrix: every field that takes an id or reaches a customer's data, asked
by every kind of principal about one customer's (Alice's) data.

The fields are walked from the schema (`root_and_argument_fields`): a root field, or any
field taking arguments, without a row in MATRIX fails `test_every_field_has_a_row`. Each row
runs one probe per principal and compares what it reached with the expected column; a
refusal (`NOT_FOUND`, `UNAUTHENTICATED`, `FORBIDDEN`) must also have made no upstream call,
and every staff read of Alice's data must have added to the audit log.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import websockets
from cart_api import card_for, online_skus
from conftest import bearer
from graphql import (
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)
from offers_api import put_promotions
from pymongo import AsyncMongoClient
from test_auth_websocket import served

from commerce.offers import OfferKind, Promotion
from gateway.wiring.schema import build_schema

VENDORS = ("square", "shopify", "salesforce")

ANONYMOUS = "anonymous"
GUEST = "guest"  # anonymous with the guest cart's X-Cart-Token
CUSTOMER = "customer"  # Alice
OTHER = "other_customer"  # Bob
KIOSK = "kiosk"  # a kiosk of Alice's store, no hand-off
HANDOFF = "kiosk_handoff"  # the kiosk Alice handed off to
STAFF = "staff"  # staff of the store
STAFF_ELSEWHERE = "staff_other_store"
DEVELOPER = "developer"  # may discover the schema; reaches customer data as anonymous
DISPLAY = "display"  # an in-store screen of Alice's store: reads what a shelf shows, nothing else
PRINCIPALS = (
    ANONYMOUS,
    GUEST,
    CUSTOMER,
    OTHER,
    KIOSK,
    HANDOFF,
    STAFF,
    STAFF_ELSEWHERE,
    DEVELOPER,
    DISPLAY,
)

# outcomes
OWN = "OWN"  # reached Alice's data (or, for the guest cart, the guest's)
NONE = "NONE"  # answered, with none of Alice's data (null, or the caller's own)
ALLOWED = "ALLOWED"  # the caller's own action, no one else's data involved
PUBLIC = "PUBLIC"  # public data, answered to anyone
NOT_FOUND = "NOT_FOUND"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
REFUSALS = frozenset({NOT_FOUND, UNAUTHENTICATED, FORBIDDEN})

VOUCHER = "ALICE-ONLY-5"


def row(
    anonymous: str,
    guest: str,
    customer: str,
    other: str,
    kiosk: str,
    handoff: str,
    staff: str,
    staff_elsewhere: str,
    developer: str,
    display: str = "FORBIDDEN",
) -> dict[str, str]:
    """`display` is FORBIDDEN unless said: a display reads only what DISPLAY_FIELDS lists."""
    columns = (
        anonymous,
        guest,
        customer,
        other,
        kiosk,
        handoff,
        staff,
        staff_elsewhere,
        developer,
        display,
    )
    return dict(zip(PRINCIPALS, columns, strict=True))


# columns: anonymous, guest, customer (Alice), another customer, kiosk, kiosk after Alice's
# hand-off, staff of the store, staff of another store, developer, display of the store
U, F, NF = UNAUTHENTICATED, FORBIDDEN, NOT_FOUND
CUSTOMER_READ = row(U, U, OWN, NF, F, OWN, OWN, OWN, U)
ME_ROW = row(U, U, OWN, NONE, U, OWN, F, F, U)
CART_OF_ALICE = row(NF, NF, OWN, NF, NF, OWN, OWN, OWN, NF)
CART_OF_GUEST = row(NF, OWN, NF, NF, NF, NF, NF, NF, NF)
OWN_DATA_ONLY = row(NONE, NONE, OWN, NONE, NONE, OWN, NONE, NONE, NONE)
# what a display may read: the offers of its store (none of them Alice's own)
OFFERS_ROW = row(NONE, NONE, OWN, NONE, NONE, OWN, NONE, NONE, NONE, NONE)
WISHLIST_CHANGE = row(U, U, OWN, NONE, U, OWN, U, U, U)
STAFF_ONLY = row(F, F, F, F, F, F, OWN, OWN, F)
# staff at any store take returns; no one signed in is told so
STAFF_AT_A_STORE = row(U, U, F, F, F, F, OWN, OWN, U)
# a customer for herself, staff for any customer (audited); kiosks are no place for it
AFTER_SALES_OPENER = row(U, U, OWN, F, F, F, OWN, OWN, U)
# a customer in her own app, about her own orders or requests only (another's answers as
# none); staff receive what customers open, they open none
CUSTOMER_APP_ONLY = row(U, U, OWN, NONE, F, F, F, F, U)
CUSTOMER_APP_ONLY_NONE = row(U, U, NONE, NONE, F, F, F, F, U)
STAFF_RECEIVES_UNKNOWN = row(U, U, F, F, F, F, NONE, NONE, U)
SIGNED_IN_CUSTOMER = row(U, U, ALLOWED, ALLOWED, U, ALLOWED, U, U, U)
CUSTOMER_TOKEN = row(U, U, ALLOWED, ALLOWED, F, F, F, F, U)
EVERYONE = dict.fromkeys(PRINCIPALS, PUBLIC)
# public, yet not what a display is for
PUBLIC_BUT_DISPLAY = {**EVERYONE, DISPLAY: FORBIDDEN}
# another store's live stock: public, and no display's but its own store's
OTHER_STORE_STOCK = PUBLIC_BUT_DISPLAY


# -- the world: Alice's data, and a guest's cart ------------------------------------------------


@dataclass
class World:
    gateway: Any
    settings: Any
    headers: dict[str, dict[str, str]]
    ws_payloads: dict[str, dict[str, str]]
    alice: str
    alice_email: str
    store: str
    cart_id: str
    guest_cart_id: str
    wished: str
    sku: str
    other_store: str
    referral_code: str
    alices_order: str
    alices_order_sku: str
    alices_request: str  # an after-sales request (a Salesforce Case) of Alice's
    audit: Any
    exit_stack: AsyncExitStack
    _ws_url: str | None = field(default=None)

    async def query(self, who: str, document: str, **variables: Any) -> Any:
        return await self.gateway.query(document, variables, headers=self.headers[who])

    async def audits(self) -> int:
        # a look-up of one of Alice's orders is audited by the order (its owner is known
        # only once it is read), a status change of her request by the request
        return int(
            await self.audit.count_documents(
                {
                    "$or": [
                        {"customer_id": self.alice},
                        {"order.id": self.alices_order},
                        {"request.id": self.alices_request},
                    ]
                }
            )
        )

    async def ws_url(self) -> str:
        if self._ws_url is None:
            self._ws_url = await self.exit_stack.enter_async_context(served(self.settings))
        return self._ws_url


@pytest.fixture
async def world(gateway, settings, tokens, dataset) -> AsyncIterator[World]:
    alice, bob = dataset.crm_contacts[5].id, dataset.crm_contacts[6].id
    store, other_store = str(dataset.stores[0].id), str(dataset.stores[1].id)
    sku, wished, *_ = online_skus(dataset, count=3)
    as_alice = bearer(tokens.customer(alice))

    async def run(headers: dict[str, str], document: str, **variables: Any) -> Any:
        body = await gateway.query(document, variables, headers=headers)
        assert "errors" not in body, body
        return body["data"]

    created = await run(as_alice, CREATE_CART, lines=[{"sku": sku}])
    cart_id = created["cartCreate"]["cart"]["id"]
    await run(
        as_alice, "mutation ($s: ID!) { wishlistAdd(sku: $s) { wishlist { updatedAt } } }", s=wished
    )
    referral_code = (await run(as_alice, "{ referralCode }"))["referralCode"]
    request = await run(
        as_alice,
        AFTER_SALES_OPEN,
        input={"kind": "QUESTION", "description": "In blue?", "sku": sku},
        key="authz-world",
    )
    alices_request = request["afterSalesRequestOpen"]["request"]["id"]
    guest = await run({}, CREATE_CART, lines=[{"sku": sku}])
    guest_token, guest_cart_id = guest["cartCreate"]["cartToken"], guest["cartCreate"]["cart"]["id"]
    handoff = await run(
        as_alice,
        "mutation ($s: ID!) { kioskHandoffCreate(storeId: $s) { handoff { token } } }",
        s=store,
    )
    handoff_token = handoff["kioskHandoffCreate"]["handoff"]["token"]
    await put_promotions(
        settings,
        Promotion(
            id="alice-voucher",
            kind=OfferKind.FIXED_AMOUNT,
            code=VOUCHER,
            value=Decimal(5),
            customer_id=alice,
        ),
    )
    kiosk_with_handoff = tokens.kiosk(store, "kiosk-with-alice")
    credentials = {
        ANONYMOUS: {},
        GUEST: {"cartToken": guest_token},
        CUSTOMER: {"authorization": f"Bearer {tokens.customer(alice)}"},
        OTHER: {"authorization": f"Bearer {tokens.customer(bob)}"},
        KIOSK: {"authorization": f"Bearer {tokens.kiosk(store, 'kiosk-alone')}"},
        HANDOFF: {"authorization": f"Bearer {kiosk_with_handoff}", "handoffToken": handoff_token},
        STAFF: {"authorization": f"Bearer {tokens.staff(store)}"},
        STAFF_ELSEWHERE: {"authorization": f"Bearer {tokens.staff(other_store, 'staff-0002')}"},
        DEVELOPER: {"authorization": f"Bearer {tokens.developer()}"},
        DISPLAY: {"authorization": f"Bearer {tokens.display(store)}"},
    }
    header_names = {
        "authorization": "authorization",
        "cartToken": "x-cart-token",
        "handoffToken": "x-handoff-token",
    }
    headers = {
        who: {header_names[key]: value for key, value in sent.items()}
        for who, sent in credentials.items()
    }
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri.get_secret_value(), tz_aware=True
    )
    async with AsyncExitStack() as stack:
        yield World(
            gateway=gateway,
            settings=settings,
            headers=headers,
            ws_payloads=credentials,
            alice=alice,
            alice_email=str(dataset.crm_contacts[5].email),
            store=store,
            cart_id=cart_id,
            guest_cart_id=guest_cart_id,
            wished=wished,
            sku=sku,
            other_store=other_store,
            referral_code=referral_code,
            alices_order=alices_receipt(dataset, alice),
            alices_order_sku=receipt_sku(dataset, alices_receipt(dataset, alice)),
            alices_request=alices_request,
            audit=client[settings.mongodb_database]["audit_log"],
            exit_stack=stack,
        )
    await client.close()


def alices_receipt(dataset: Any, alice: str) -> str:
    person = next(c.person_key for c in dataset.crm_contacts if c.id == alice)
    pos_ids = {c.id for c in dataset.pos_customers if c.person_key == person}
    return str(next(o.id for o in dataset.pos_orders if o.customer_id in pos_ids))


def receipt_sku(dataset: Any, order_id: str) -> str:
    order = next(o for o in dataset.pos_orders if o.id == order_id)
    return str(order.line_items[0].sku)


CREATE_CART = """
mutation ($lines: [CartLineInput!], $customerId: ID) {
  cartCreate(lines: $lines, customerId: $customerId) {
    cartToken cart { id } userErrors { code }
  }
}
"""


# -- reading answers ------------------------------------------------------------------------------


def error_codes(body: Any) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


def refusal(codes: list[str]) -> str | None:
    for code in (NOT_FOUND, UNAUTHENTICATED, FORBIDDEN):
        if code in codes:
            return code
    return None


def field_outcome(body: Any, name: str, is_alices: Callable[[Any], bool]) -> str:
    """A query field's outcome: its refusal code, or whether it answered Alice's data."""
    if (code := refusal(error_codes(body))) is not None:
        return code
    assert not body.get("errors"), body
    return OWN if is_alices(body["data"][name]) else NONE


def payload_outcome(body: Any, name: str, is_alices: Callable[[Any], bool]) -> str:
    """A mutation's outcome: a refusal in `userErrors` or as an error, else whether its
    payload holds Alice's data."""
    if (code := refusal(error_codes(body))) is not None:
        return code
    assert not body.get("errors"), body
    payload = body["data"][name]
    if (code := refusal([e["code"] for e in payload["userErrors"]])) is not None:
        return code
    return OWN if is_alices(payload) else NONE


# -- probes -------------------------------------------------------------------------------------

Probe = Callable[[World, str], Awaitable[str]]


def public(document: str, name: str, **variables: Any) -> Probe:
    async def probe(world: World, who: str) -> str:
        body = await world.query(who, document, **variables)
        if (code := refusal(error_codes(body))) is not None:
            return code
        assert not body.get("errors"), body
        return PUBLIC if body["data"][name] not in (None, []) else NONE

    return probe


async def product(world: World, who: str) -> str:
    return await public("query ($s: ID!) { product(sku: $s) { sku } }", "product", s=world.sku)(
        world, who
    )


async def store(world: World, who: str) -> str:
    document = "query ($id: ID!) { store(id: $id) { id } }"
    return await public(document, "store", id=world.store)(world, who)


async def stores_near(world: World, who: str) -> str:
    document = """query ($s: ID!) {
      stores(near: {latitude: 40.7, longitude: -74}, withinKm: 20000, withStock: [$s]) {
        id distanceKm stock(skus: [$s]) { quantity }
      }
    }"""
    return await public(document, "stores", s=world.sku)(world, who)


async def availability(world: World, who: str) -> str:
    document = """query ($s: ID!) {
      product(sku: $s) { availability { stores(first: 2, inStockOnly: true) { quantity } } }
    }"""
    return await public(document, "product", s=world.sku)(world, who)


async def customer_by_id(world: World, who: str) -> str:
    body = await world.query(
        who, "query ($id: ID!) { customer(id: $id) { id email } }", id=world.alice
    )
    return field_outcome(body, "customer", lambda c: c is not None and c["id"] == world.alice)


async def customer_search(world: World, who: str) -> str:
    body = await world.query(
        who,
        "query ($e: String!) { customers(search: {email: $e}) { id email } }",
        e=world.alice_email,
    )
    return field_outcome(
        body,
        "customers",
        lambda found: found is not None and [c["id"] for c in found] == [world.alice],
    )


async def customer_timeline(world: World, who: str) -> str:
    document = """query ($id: ID!) {
      customer(id: $id) { timeline(first: 2) { nodes { at } missingSources } }
    }"""
    body = await world.query(who, document, id=world.alice)
    return field_outcome(
        body, "customer", lambda c: c is not None and c["timeline"]["missingSources"] == []
    )


async def customer_entity(world: World, who: str) -> str:
    document = """query ($r: [_Any!]!) {
      _entities(representations: $r) { ... on Customer { id phone } }
    }"""
    body = await world.query(who, document, r=[{"__typename": "Customer", "id": world.alice}])
    return field_outcome(
        body, "_entities", lambda e: e == [{"id": world.alice, "phone": e[0]["phone"]}]
    )


async def public_entities(world: World, who: str) -> str:
    document = """query ($r: [_Any!]!) {
      _entities(representations: $r) { ... on Product { sku } ... on Store { id } }
    }"""
    representations = [
        {"__typename": "Product", "sku": world.sku},
        {"__typename": "Store", "id": world.store},
    ]
    body = await world.query(who, document, r=representations)
    if (code := refusal(error_codes(body))) is not None:
        return code
    assert not body.get("errors"), body
    return (
        PUBLIC if body["data"]["_entities"] == [{"sku": world.sku}, {"id": world.store}] else NONE
    )


async def customer_orders(world: World, who: str) -> str:
    document = """query ($id: ID!) {
      customer(id: $id) { orders(first: 2, channel: null) { nodes { id } } }
    }"""
    body = await world.query(who, document, id=world.alice)
    return field_outcome(body, "customer", lambda c: c is not None and c["orders"] is not None)


async def order_by_id(world: World, who: str) -> str:
    body = await world.query(
        who, "query ($id: ID) { order(id: $id) { id } }", id=world.alices_order
    )
    return field_outcome(body, "order", lambda o: o is not None and o["id"] == world.alices_order)


async def me(world: World, who: str) -> str:
    body = await world.query(who, "{ me { id } }")
    return field_outcome(body, "me", lambda m: m is not None and m["id"] == world.alice)


def cart_read(cart_id: Callable[[World], str], selection: str = "id") -> Probe:
    async def probe(world: World, who: str) -> str:
        document = f"query ($id: ID) {{ cart(id: $id) {{ {selection} }} }}"
        body = await world.query(who, document, id=cart_id(world))
        outcome = field_outcome(body, "cart", lambda c: c is not None)
        return NOT_FOUND if outcome == NONE else outcome  # null: no cart this caller may see

    return probe


def alices_cart(world: World) -> str:
    return world.cart_id


def guests_cart(world: World) -> str:
    return world.guest_cart_id


PRICED = """id
  cost(channel: null) { total { amount } }
  promoCodes(channel: null) { code }
  discounts(channel: null) { title }
  quote(channel: null) { token total { amount } }
"""


async def wishlist(world: World, who: str) -> str:
    body = await world.query(who, "{ wishlist { items { sku } } }")
    return field_outcome(
        body, "wishlist", lambda w: w is not None and world.wished in {i["sku"] for i in w["items"]}
    )


async def offers(world: World, who: str) -> str:
    body = await world.query(who, "{ offers(channel: null) { code personal } }")
    return field_outcome(body, "offers", lambda found: VOUCHER in {o["code"] for o in found})


async def referral_code(world: World, who: str) -> str:
    body = await world.query(who, "{ referralCode }")
    return field_outcome(body, "referralCode", lambda code: code == world.referral_code)


CART_PAYLOAD = "cart { id } userErrors { code }"


def cart_mutation(name: str, arguments: str, **variables: Any) -> Callable[..., Probe]:
    """A mutation on a cart by id. `expectedVersion: -1` makes every allowed call a
    CONFLICT that changes nothing, so the rows can run in any order."""

    def for_cart(cart_id: Callable[[World], str] = alices_cart) -> Probe:
        async def probe(world: World, who: str) -> str:
            document = (
                f"mutation ($cartId: ID!) {{ {name}(cartId: $cartId, {arguments}) "
                f"{{ {CART_PAYLOAD} }} }}"
            )
            body = await world.query(who, document, cartId=cart_id(world), **variables)
            return payload_outcome(
                body, name, lambda p: p["cart"] is not None and p["cart"]["id"] == cart_id(world)
            )

        return probe

    return for_cart


lines_add = cart_mutation(
    "cartLinesAdd", 'lines: [{sku: "NO-SUCH-SKU", quantity: 1}], expectedVersion: -1'
)
lines_update = cart_mutation(
    "cartLinesUpdate", 'lines: [{id: "no-such-line", quantity: 2}], expectedVersion: -1'
)
lines_remove = cart_mutation("cartLinesRemove", 'lineIds: ["no-such-line"], expectedVersion: -1')
set_fulfillment = cart_mutation("cartSetFulfillment", "type: DELIVERY, expectedVersion: -1")
apply_code = cart_mutation(
    "cartApplyPromoCode", 'code: "NO-SUCH-CODE", expectedVersion: -1, channel: null'
)
apply_points = cart_mutation("cartApplyLoyaltyPoints", "points: 0, expectedVersion: -1")
remove_code = cart_mutation("cartRemovePromoCode", 'code: "NO-SUCH-CODE", expectedVersion: -1')
reprice = cart_mutation("cartLinesReprice", "expectedVersion: -1")


async def checkout(world: World, who: str) -> str:
    """A quote that is not one omnigate signed, on the caller's own channel (test_channels.py
    has the others): an allowed caller reaches the cart and is refused QUOTE_INVALID before
    anything is placed."""
    document = """mutation (
      $cartId: ID!, $channel: SalesChannel!, $key: String!, $paymentToken: String
    ) {
      checkout(
        cartId: $cartId, channel: $channel, idempotencyKey: $key, quote: "forged.quote",
        paymentToken: $paymentToken
      ) {
        cart { id } userErrors { code }
      }
    }"""
    channel = {KIOSK: "KIOSK", HANDOFF: "KIOSK", STAFF: "STORE", STAFF_ELSEWHERE: "STORE"}
    on = channel.get(who, "WEB")
    body = await world.query(
        who,
        document,
        cartId=world.cart_id,
        channel=on,
        key=f"authz-{who}",
        paymentToken=card_for(on),
    )
    return payload_outcome(
        body,
        "checkout",
        lambda p: (
            [e["code"] for e in p["userErrors"]] == ["QUOTE_INVALID"]
            and p["cart"]["id"] == world.cart_id
        ),
    )


async def cart_create_for_alice(world: World, who: str) -> str:
    body = await world.query(who, CREATE_CART, customerId=world.alice)
    return payload_outcome(
        body, "cartCreate", lambda p: p["cart"] is not None and p["cart"]["id"] == world.cart_id
    )


async def order_return(world: World, who: str) -> str:
    """Alice's receipt was paid at the till with no card payment: staff reach the order and
    are told NOT_PAID, so nothing is refunded."""
    document = """mutation ($id: ID!, $sku: ID!, $key: String!) {
      orderReturn(orderId: $id, lines: [{sku: $sku, quantity: 1}], idempotencyKey: $key) {
        orderReturn { id } userErrors { code }
      }
    }"""
    body = await world.query(
        who, document, id=world.alices_order, sku=world.alices_order_sku, key=f"authz-{who}"
    )
    return payload_outcome(
        body, "orderReturn", lambda p: [e["code"] for e in p["userErrors"]] == ["NOT_PAID"]
    )


async def return_request_open(world: World, who: str) -> str:
    """A return of Alice's receipt, paid at the till with no card payment: Alice reaches her
    order and is told NOT_PAID (nothing held); Bob is told ORDER_NOT_FOUND, as for an order
    that does not exist."""
    document = """mutation ($id: ID!, $sku: ID!, $key: String!) {
      returnRequestOpen(
        orderId: $id, lines: [{sku: $sku, quantity: 1}], reason: OTHER,
        method: BRING_TO_STORE, idempotencyKey: $key
      ) { returnRequest { id } userErrors { code } }
    }"""
    body = await world.query(
        who, document, id=world.alices_order, sku=world.alices_order_sku, key=f"authz-{who}"
    )
    return payload_outcome(
        body, "returnRequestOpen", lambda p: [e["code"] for e in p["userErrors"]] == ["NOT_PAID"]
    )


async def return_request_cancel(world: World, who: str) -> str:
    """No request of Alice's is open (her receipt cannot be returned from the app): a
    customer is answered REQUEST_NOT_FOUND, her own action; no one else may cancel."""
    document = """mutation ($id: ID!) {
      returnRequestCancel(id: $id) { returnRequest { id } userErrors { code } }
    }"""
    body = await world.query(who, document, id="f" * 64)
    return payload_outcome(body, "returnRequestCancel", lambda p: p["returnRequest"] is not None)


async def return_request_receive(world: World, who: str) -> str:
    """Staff at any store receive requests (tests/test_return_requests.py receives real
    ones, audited); an unknown one is answered REQUEST_NOT_FOUND to them, with nothing of
    anyone's, and refused to anyone else before anything is read."""
    document = """mutation ($id: ID!) {
      returnRequestReceive(id: $id) { orderReturn { id } userErrors { code } }
    }"""
    body = await world.query(who, document, id="f" * 64)
    answered = payload_outcome(body, "returnRequestReceive", lambda p: False)
    if answered == NONE:
        codes = [e["code"] for e in body["data"]["returnRequestReceive"]["userErrors"]]
        assert codes == ["REQUEST_NOT_FOUND"], body
    return answered


AFTER_SALES_OPEN = """mutation ($input: AfterSalesRequestInput!, $key: String!) {
  afterSalesRequestOpen(input: $input, idempotencyKey: $key) {
    request { id orderId } userErrors { code }
  }
}"""


async def after_sales_open(world: World, who: str) -> str:
    """A request about Alice's receipt, for Alice: she opens it, staff open it for her
    (audited); another customer naming her is FORBIDDEN before anything is read."""
    body = await world.query(
        who,
        AFTER_SALES_OPEN,
        input={
            "kind": "DAMAGED",
            "description": "Cracked.",
            "orderId": world.alices_order,
            "customerId": world.alice,
        },
        key=f"authz-{who}",
    )
    return payload_outcome(
        body,
        "afterSalesRequestOpen",
        lambda p: p["request"] is not None and p["request"]["orderId"] == world.alices_order,
    )


async def after_sales_set_status(world: World, who: str) -> str:
    document = """mutation ($id: ID!) {
      afterSalesRequestSetStatus(id: $id, status: WORKING) { request { id } userErrors { code } }
    }"""
    body = await world.query(who, document, id=world.alices_request)
    return payload_outcome(
        body,
        "afterSalesRequestSetStatus",
        lambda p: p["request"] is not None and p["request"]["id"] == world.alices_request,
    )


async def merge_guest(world: World, who: str) -> str:
    """A token that opens no cart: a customer is told NOT_FOUND about the token (their own
    action), anyone else that merging needs a signed-in customer."""
    document = """mutation {
      cartMergeGuest(guestCartToken: "no-such-token") { cart { id } userErrors { code } }
    }"""
    body = await world.query(who, document)
    if (code := refusal(error_codes(body))) is not None:
        return code
    payload = body["data"]["cartMergeGuest"]
    codes = [e["code"] for e in payload["userErrors"]]
    return UNAUTHENTICATED if UNAUTHENTICATED in codes else ALLOWED


def wishlist_mutation(document: str, name: str) -> Probe:
    async def probe(world: World, who: str) -> str:
        body = await world.query(who, document, s=world.sku)
        return payload_outcome(
            body,
            name,
            lambda p: (
                p["wishlist"] is not None
                and world.wished in {i["sku"] for i in p["wishlist"]["items"]}
            ),
        )

    return probe


WISHLIST_PAYLOAD = "wishlist { items { sku } } userErrors { code }"
wishlist_add = wishlist_mutation(
    f"mutation ($s: ID!) {{ wishlistAdd(sku: $s) {{ {WISHLIST_PAYLOAD} }} }}", "wishlistAdd"
)
wishlist_remove = wishlist_mutation(
    f'mutation {{ wishlistRemove(sku: "NOT-WISHED") {{ {WISHLIST_PAYLOAD} }} }}',
    "wishlistRemove",
)
wishlist_move = wishlist_mutation(
    f'mutation {{ wishlistMoveToCart(sku: "NOT-WISHED", quantity: 1) {{ {WISHLIST_PAYLOAD} }} }}',
    "wishlistMoveToCart",
)


async def handoff_create(world: World, who: str) -> str:
    document = """mutation ($s: ID!) {
      kioskHandoffCreate(storeId: $s) { handoff { token } userErrors { code } }
    }"""
    body = await world.query(who, document, s=world.store)
    if (code := refusal(error_codes(body))) is not None:
        return code
    return ALLOWED if body["data"]["kioskHandoffCreate"]["handoff"] else NONE


async def first_event(world: World, who: str, document: str, variables: dict[str, Any]) -> Any:
    """The first message of a subscription over graphql-transport-ws, credentials in
    `connection_init`."""
    url = await world.ws_url()
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        init = {"type": "connection_init", "payload": world.ws_payloads[who]}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": document, "variables": variables},
        }
        await socket.send(json.dumps(subscribe))
        return json.loads(await socket.recv())


def subscription_outcome(message: Any, name: str, reached: Callable[[Any], bool]) -> str:
    if message["type"] == "error":
        return refusal([e["extensions"]["code"] for e in message["payload"]]) or "ERROR"
    return field_outcome(message["payload"], name, reached)


def cart_updated(cart_id: Callable[[World], str]) -> Probe:
    async def probe(world: World, who: str) -> str:
        document = "subscription ($id: ID!) { cartUpdated(cartId: $id) { id } }"
        message = await first_event(world, who, document, {"id": cart_id(world)})
        return subscription_outcome(message, "cartUpdated", lambda c: c["id"] == cart_id(world))

    return probe


async def order_changed(world: World, who: str) -> str:
    document = "subscription ($id: ID!) { orderChanged(id: $id) { id } }"
    message = await first_event(world, who, document, {"id": world.alices_order})
    return subscription_outcome(message, "orderChanged", lambda o: o["id"] == world.alices_order)


def live(document: str, name: str, variables: Callable[[World], dict[str, Any]]) -> Probe:
    """A live subscription's first message over graphql-transport-ws: PUBLIC when it
    answers, or its refusal."""

    async def probe(world: World, who: str) -> str:
        message = await first_event(world, who, document, variables(world))
        errors = (
            message["payload"] if message["type"] == "error" else message["payload"].get("errors")
        )
        if errors:
            return refusal([e["extensions"]["code"] for e in errors]) or "ERROR"
        return PUBLIC if message["payload"]["data"][name] else NONE

    return probe


STOCK_CHANGED = """subscription ($storeId: ID, $skus: [ID!]) {
  stockChanged(storeId: $storeId, skus: $skus) { levels { sku quantity } }
}"""
PRODUCT_CHANGED = """subscription ($skus: [ID!]!) {
  productChanged(skus: $skus) { products { sku price { amount } } }
}"""
stock_here = live(STOCK_CHANGED, "stockChanged", lambda w: {"storeId": w.store, "skus": [w.sku]})
stock_online = live(STOCK_CHANGED, "stockChanged", lambda w: {"storeId": None, "skus": [w.sku]})
stock_elsewhere = live(
    STOCK_CHANGED, "stockChanged", lambda w: {"storeId": w.other_store, "skus": [w.sku]}
)
product_live = live(PRODUCT_CHANGED, "productChanged", lambda w: {"skus": [w.sku]})


@dataclass(frozen=True)
class Row:
    probe: Probe
    expected: dict[str, str]
    # why a refusal may read upstream first, when it must: None for every other row
    refusal_reads: str | None = None


ORDER_OWNER_UPSTREAM = (
    "an order's owner is known only to the system holding it: the order is read, then "
    "another customer's answers NOT_FOUND exactly as an id that does not exist"
)


# Every root field and every field taking arguments, with what each principal reaches.
MATRIX: dict[str, list[Row]] = {
    "Query.product": [Row(product, EVERYONE)],
    "Query.products": [
        Row(public("{ products(first: 1) { nodes { sku } } }", "products"), EVERYONE)
    ],
    "Query.stores": [
        Row(public("{ stores { id } }", "stores"), EVERYONE),
        Row(stores_near, EVERYONE),
    ],
    "Store.stock": [Row(stores_near, EVERYONE)],
    "Query.store": [Row(store, EVERYONE)],
    "Availability.stores": [Row(availability, EVERYONE)],
    "Query._service": [Row(public("{ _service { sdl } }", "_service"), PUBLIC_BUT_DISPLAY)],
    "Query._entities": [
        Row(customer_entity, CUSTOMER_READ),
        Row(public_entities, PUBLIC_BUT_DISPLAY),
    ],
    "Query.customer": [Row(customer_by_id, CUSTOMER_READ)],
    "Query.customers": [Row(customer_search, STAFF_ONLY)],
    "Customer.orders": [Row(customer_orders, CUSTOMER_READ)],
    "Customer.timeline": [Row(customer_timeline, CUSTOMER_READ)],
    "Query.me": [Row(me, ME_ROW)],
    "Query.order": [Row(order_by_id, CUSTOMER_READ, refusal_reads=ORDER_OWNER_UPSTREAM)],
    "Query.cart": [
        Row(cart_read(alices_cart), CART_OF_ALICE),
        Row(cart_read(guests_cart), CART_OF_GUEST),
    ],
    "Cart.cost": [Row(cart_read(alices_cart, PRICED), CART_OF_ALICE)],
    "Cart.promoCodes": [Row(cart_read(alices_cart, PRICED), CART_OF_ALICE)],
    "Cart.discounts": [Row(cart_read(alices_cart, PRICED), CART_OF_ALICE)],
    "Cart.quote": [Row(cart_read(alices_cart, PRICED), CART_OF_ALICE)],
    "Query.wishlist": [Row(wishlist, OWN_DATA_ONLY)],
    "Query.offers": [Row(offers, OFFERS_ROW)],
    "Query.referralCode": [Row(referral_code, OWN_DATA_ONLY)],
    "Mutation.cartCreate": [Row(cart_create_for_alice, STAFF_ONLY)],
    "Mutation.cartLinesAdd": [
        Row(lines_add(), CART_OF_ALICE),
        Row(lines_add(guests_cart), CART_OF_GUEST),
    ],
    "Mutation.cartLinesUpdate": [Row(lines_update(), CART_OF_ALICE)],
    "Mutation.cartLinesRemove": [Row(lines_remove(), CART_OF_ALICE)],
    "Mutation.cartSetFulfillment": [Row(set_fulfillment(), CART_OF_ALICE)],
    "Mutation.cartApplyPromoCode": [Row(apply_code(), CART_OF_ALICE)],
    "Mutation.cartApplyLoyaltyPoints": [Row(apply_points(), CART_OF_ALICE)],
    "Mutation.cartRemovePromoCode": [Row(remove_code(), CART_OF_ALICE)],
    "Mutation.cartLinesReprice": [Row(reprice(), CART_OF_ALICE)],
    "Mutation.checkout": [Row(checkout, CART_OF_ALICE)],
    "Mutation.orderReturn": [Row(order_return, STAFF_AT_A_STORE)],
    "Mutation.afterSalesRequestOpen": [Row(after_sales_open, AFTER_SALES_OPENER)],
    "Mutation.returnRequestOpen": [Row(return_request_open, CUSTOMER_APP_ONLY)],
    "Mutation.returnRequestCancel": [Row(return_request_cancel, CUSTOMER_APP_ONLY_NONE)],
    "Mutation.returnRequestReceive": [Row(return_request_receive, STAFF_RECEIVES_UNKNOWN)],
    "Mutation.afterSalesRequestSetStatus": [Row(after_sales_set_status, STAFF_AT_A_STORE)],
    "Mutation.cartMergeGuest": [Row(merge_guest, SIGNED_IN_CUSTOMER)],
    "Mutation.wishlistAdd": [Row(wishlist_add, WISHLIST_CHANGE)],
    "Mutation.wishlistRemove": [Row(wishlist_remove, WISHLIST_CHANGE)],
    "Mutation.wishlistMoveToCart": [Row(wishlist_move, WISHLIST_CHANGE)],
    "Mutation.kioskHandoffCreate": [Row(handoff_create, CUSTOMER_TOKEN)],
    "Subscription.cartUpdated": [
        Row(cart_updated(alices_cart), CART_OF_ALICE),
        Row(cart_updated(guests_cart), CART_OF_GUEST),
    ],
    "Subscription.stockChanged": [
        Row(stock_here, EVERYONE),
        Row(stock_online, EVERYONE),
        Row(stock_elsewhere, OTHER_STORE_STOCK),
    ],
    "Subscription.productChanged": [Row(product_live, EVERYONE)],
    "Subscription.orderChanged": [
        Row(order_changed, CUSTOMER_READ, refusal_reads=ORDER_OWNER_UPSTREAM)
    ],
}


# -- the schema walk ----------------------------------------------------------------------------


def root_and_argument_fields(schema: GraphQLSchema) -> set[str]:
    """`Type.field` of every root field and of every field taking arguments: each is a way
    in, so each needs a row."""
    roots = {
        t.name for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t
    }
    found: set[str] = set()
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field_ in type_.fields.items():
            if type_.name in roots or field_.args:
                found.add(f"{type_.name}.{name}")
    return found


def id_inputs(schema: GraphQLSchema) -> set[str]:
    """Every argument or input field of type ID (in lists and input objects too)."""
    found: set[str] = set()
    for type_ in schema.type_map.values():
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__"):
            for name, field_ in type_.fields.items():
                for arg_name, arg in field_.args.items():
                    if get_named_type(arg.type).name == "ID":
                        found.add(f"{type_.name}.{name}({arg_name})")
        elif isinstance(type_, GraphQLInputObjectType):
            for name, input_field in type_.fields.items():
                if get_named_type(input_field.type).name == "ID":
                    found.add(f"{type_.name}.{name}")
    return found


# What each id given as input names, and why it cannot reach someone else's data.
ID_INPUTS = {
    "Query.product(sku)": "a product: public",
    "Query.store(id)": "a store: public",
    "Query.stores(withStock)": "products: public (stock net of holds names no cart)",
    "Store.stock(skus)": "products: public (stock net of holds names no cart)",
    "Query.customer(id)": "a customer: the matrix's CUSTOMER_READ",
    "Query.order(id)": "an order: its owner and staff (CUSTOMER_READ)",
    "Mutation.orderReturn(orderId)": "an order: staff only (STAFF_AT_A_STORE), audited",
    "Mutation.afterSalesRequestSetStatus(id)": "a request: staff only (STAFF_AT_A_STORE), audited",
    "AfterSalesRequestInput.orderId": "an order of the request's customer, else ORDER_NOT_FOUND",
    "AfterSalesRequestInput.customerId": "staff (audited); a customer only herself, else FORBIDDEN",
    "ReturnLineInput.sku": "a line of an order already authorized",
    "Mutation.returnRequestOpen(orderId)": "an order of the signed-in customer, else "
    "ORDER_NOT_FOUND (CUSTOMER_APP_ONLY)",
    "ReturnRequestLineInput.sku": "a line of an order already authorized",
    "Mutation.returnRequestCancel(id)": "a request of the signed-in customer, else "
    "REQUEST_NOT_FOUND",
    "Mutation.returnRequestReceive(id)": "a request: staff only (STAFF_AT_A_STORE), audited",
    "Mutation.returnRequestReceive(damaged)": "lines of a request already authorized",
    "Query.cart(id)": "a cart: its owner, its token's holder, staff",
    "Mutation.cartCreate(customerId)": "staff only (audited); FORBIDDEN to anyone else",
    "Mutation.cartLinesAdd(cartId)": "a cart",
    "Mutation.cartLinesUpdate(cartId)": "a cart",
    "Mutation.cartLinesRemove(cartId)": "a cart",
    "Mutation.cartLinesRemove(lineIds)": "lines of a cart already authorized",
    "Mutation.cartSetFulfillment(cartId)": "a cart",
    "Mutation.cartSetFulfillment(storeId)": "a store: public",
    "Mutation.cartApplyPromoCode(cartId)": "a cart",
    "Mutation.cartApplyLoyaltyPoints(cartId)": "a cart; the points are its owner's",
    "Mutation.cartRemovePromoCode(cartId)": "a cart",
    "Mutation.cartLinesReprice(cartId)": "a cart",
    "Mutation.checkout(cartId)": "a cart",
    "Mutation.wishlistAdd(sku)": "a product, into the caller's own wishlist",
    "Mutation.wishlistRemove(sku)": "a product, from the caller's own wishlist",
    "Mutation.wishlistMoveToCart(sku)": "a product, from the caller's own wishlist",
    "Mutation.kioskHandoffCreate(storeId)": "a store: public",
    "Subscription.cartUpdated(cartId)": "a cart",
    "Subscription.stockChanged(storeId)": "a store: public; a display follows its own only",
    "Subscription.stockChanged(skus)": "products: public",
    "Subscription.productChanged(skus)": "products: public",
    "Subscription.orderChanged(id)": "an order: its owner and staff, as Query.order",
    "CartLineInput.sku": "a product: public",
    "CartLineUpdateInput.id": "a line of a cart already authorized",
    "CustomerSearchInput.loyaltyCard": "a POS loyalty account: staff only (Query.customers)",
    "CustomerSearchInput.posCustomerId": "a POS customer: staff only (Query.customers)",
}


@pytest.fixture(scope="module")
def graphql_schema() -> GraphQLSchema:
    return build_schema()._schema


def test_every_field_has_a_row(graphql_schema):
    """A new root field, or a new field taking arguments, fails here until it is given a
    row saying who may reach what through it."""
    assert root_and_argument_fields(graphql_schema) == set(MATRIX)


def test_every_id_input_is_accounted_for(graphql_schema):
    assert id_inputs(graphql_schema) == set(ID_INPUTS)


ROWS = [
    pytest.param(row_, id=f"{coordinate}#{i}")
    for coordinate, rows in sorted(MATRIX.items())
    for i, row_ in enumerate(rows)
]


def upstream_calls(sandbox) -> int:
    return sum(sandbox.total_calls(vendor) for vendor in VENDORS)


@pytest.mark.parametrize("matrix_row", ROWS)
async def test_authorization_matrix(world, sandbox, matrix_row: Row):
    """Each principal reaches exactly its column; a refusal fetched nothing upstream; a
    staff read of Alice's data is on the audit log."""
    wrong = []
    for who in PRINCIPALS:
        expected = matrix_row.expected[who]
        audits = await world.audits()
        sandbox.reset_calls()
        got = await matrix_row.probe(world, who)
        calls = upstream_calls(sandbox)
        if got != expected:
            wrong.append(f"{who}: expected {expected}, got {got}")
        elif got in REFUSALS and calls and not (got == NOT_FOUND and matrix_row.refusal_reads):
            wrong.append(f"{who}: {got}, yet {calls} upstream calls were made")
        elif who in (STAFF, STAFF_ELSEWHERE) and got == OWN and await world.audits() == audits:
            wrong.append(f"{who}: read Alice's data without an audit entry")
    assert wrong == []


# -- inputs cannot set what the server owns ------------------------------------------------------

SERVER_OWNED = re.compile(
    r"price|amount|total|discount|cost|currency|customer|owner|status|version|balance|tier"
    r"|createdAt|updatedAt|addedAt|expiresAt",
    re.IGNORECASE,
)
# the inputs whose name looks server-owned, and why each is not
SERVER_OWNED_EXCEPTIONS = {
    "Mutation.cartCreate(customerId)": "staff only (audited), FORBIDDEN to anyone else: above",
    **{
        f"Mutation.{name}(expectedVersion)": "a precondition compared, never written"
        for name in (
            "cartLinesAdd",
            "cartLinesUpdate",
            "cartLinesRemove",
            "cartSetFulfillment",
            "cartApplyPromoCode",
            "cartApplyLoyaltyPoints",
            "cartRemovePromoCode",
            "cartLinesReprice",
        )
    },
    "CustomerSearchInput.posCustomerId": "a search term (staff only), never written",
    "AfterSalesRequestInput.customerId": "staff name the customer (audited); a customer only "
    "herself, FORBIDDEN otherwise",
    "Mutation.afterSalesRequestSetStatus(status)": "staff only (audited): working a request "
    "is theirs to do; the CRM's agents move it too",
}


def mutation_inputs(schema: GraphQLSchema) -> set[str]:
    """Every mutation argument and every field of an input type, by name."""
    found: set[str] = set()
    assert schema.mutation_type is not None
    for name, field_ in schema.mutation_type.fields.items():
        found |= {f"Mutation.{name}({argument})" for argument in field_.args}
    for type_ in schema.type_map.values():
        if isinstance(type_, GraphQLInputObjectType):
            found |= {f"{type_.name}.{name}" for name in type_.fields}
    return found


def input_name(coordinate: str) -> str:
    """`customerId)` of `Mutation.cartCreate(customerId)`, `email` of `CustomerSearchInput.email`:
    the input's own name, not its type's (a search input is no customer's data to set)."""
    if "(" in coordinate:
        return coordinate.rpartition("(")[2]
    return coordinate.rpartition(".")[2]


def test_no_input_sets_a_price_an_owner_or_another_server_owned_field(graphql_schema):
    looks_owned = {
        coordinate
        for coordinate in mutation_inputs(graphql_schema)
        if SERVER_OWNED.search(input_name(coordinate))
    }
    assert looks_owned == set(SERVER_OWNED_EXCEPTIONS)


@pytest.mark.parametrize(
    "line",
    [
        '{sku: "S", quantity: 1, unitPrice: "0.01"}',
        '{sku: "S", quantity: 1, price: {amount: "0.01", currency: "USD"}}',
        '{sku: "S", quantity: 1, customerId: "003OTHER"}',
        '{sku: "S", quantity: 1, addedUnitPrice: "0.01"}',
    ],
)
async def test_a_line_carrying_a_price_or_an_owner_is_refused_before_anything_runs(
    gateway, sandbox, tokens, dataset, line
):
    headers = bearer(tokens.customer(dataset.crm_contacts[5].id))
    sandbox.reset_calls()
    body = await gateway.query(
        f"mutation {{ cartCreate(lines: [{line}]) {{ cart {{ id }} }} }}", headers=headers
    )
    assert body.get("data") is None
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert upstream_calls(sandbox) == 0
