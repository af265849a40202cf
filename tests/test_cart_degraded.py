"""Cart writes while the price or stock source fails (issue 20, item 3): an add lands at the
price the catalog gave lately, flagged for re-pricing, instead of failing; a SKU not read
lately fails with the upstream's error; checkout re-prices from the source and refuses a
rise past the tolerance; no add is lost under a throttle.

Shopify throttles here as Shopify does: the simulator's leaky bucket on a clock the test
holds still, drained by another client of the same shop (an import job sharing its API
budget), answers THROTTLED in an HTTP 200 until the test lets the clock run. "Down" is a
fault proxy refusing connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
import pytest
from cart_api import (
    CART,
    CART_CREATE,
    ERRORS,
    Device,
    codes,
    online_skus,
    stock_at,
)
from fault_proxy import Fault, FaultProxy
from live_server import serving

from gateway.local_mongod import free_port
from sandbox.dataset import WAREHOUSE_LOCATION_ID, Dataset
from sandbox.shopify import SANDBOX_ACCESS_TOKEN
from sandbox.shopify import create_app as shopify_app
from sandbox.shopify.app import GRAPHQL_PATH

PRODUCT_PAGE = """
query ($sku: ID!) {
  product(sku: $sku) { sku price { amount } availability { online { quantity } } }
}
"""
# what an app asks after an add: nothing that prices the cart again, but the flag
LINES = "id version lines { id sku quantity addedUnitPrice { amount } needsRepricing }"
ADD = f"""
mutation ($cartId: ID!, $lines: [CartLineInput!]!) {{
  cartLinesAdd(cartId: $cartId, lines: $lines) {{ cart {{ {LINES} }} {ERRORS} }}
}}
"""
ADD_AND_COST = f"""
mutation ($cartId: ID!, $lines: [CartLineInput!]!) {{
  cartLinesAdd(cartId: $cartId, lines: $lines) {{
    cart {{ {LINES} cost {{ total {{ amount }} }} }} {ERRORS}
  }}
}}
"""
UPDATE = f"""
mutation ($cartId: ID!, $lines: [CartLineUpdateInput!]!) {{
  cartLinesUpdate(cartId: $cartId, lines: $lines) {{ cart {{ {LINES} }} {ERRORS} }}
}}
"""
REPRICE = f"""
mutation ($cartId: ID!, $v: Int) {{
  cartLinesReprice(cartId: $cartId, expectedVersion: $v) {{ cart {{ {LINES} }} {ERRORS} }}
}}
"""
CHECKOUT_PRICES = f"""
mutation ($cartId: ID!, $key: String!, $paymentToken: String) {{
  checkout(cartId: $cartId, channel: WEB, idempotencyKey: $key, paymentToken: $paymentToken) {{
    order {{ total {{ amount }} }}
    cart {{ id status version lines {{ sku addedUnitPrice {{ amount }} unitPrice {{ amount }}
      needsRepricing }} }}
    {ERRORS}
  }}
}}
"""
# a catalog search: the products come with the page, their stock from the inventory
LISTING = """
{ products(first: 5) { edges { node { sku price { amount } availability { online { quantity } } }
} } }
"""
MERGE_GUEST = f"""
mutation ($token: String) {{
  cartMergeGuest(guestCartToken: $token) {{ cart {{ {LINES} }} {ERRORS} }}
}}
"""
QUOTE = "{ cart { quote(channel: WEB) { token total { amount } } } }"
QUOTED_CHECKOUT = f"""
mutation ($cartId: ID!, $q: String, $paymentToken: String) {{
  checkout(
    cartId: $cartId, channel: WEB, idempotencyKey: "quoted", quote: $q, paymentToken: $paymentToken
  ) {{
    order {{ total {{ amount }} }} {ERRORS}
  }}
}}
"""
CHECKS_OUT = "graphql orderCreate"
PRICES = "graphql shop,productVariants"  # the adapter's ProductsBySku


class HeldClock:
    """The Shopify simulator's bucket clock: still until the test moves it."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Shop:
    """A Shopify simulator of this test's own, over loopback HTTP, behind a fault proxy."""

    url: str
    app: Any
    clock: HeldClock
    proxy: FaultProxy

    def graphql(self, client: httpx.Client, query: str) -> dict[str, Any]:
        response = client.post(
            self.url + GRAPHQL_PATH.format(version="2026-07"),
            json={"query": query},
            headers={"x-shopify-access-token": SANDBOX_ACCESS_TOKEN},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def drain(self) -> None:
        """Another client of the shop spends the whole bucket; the clock being held, every
        query after it is THROTTLED."""
        with httpx.Client(trust_env=False) as client:
            while True:
                cost = self.graphql(client, "{ shop { name } }")["extensions"]["cost"]
                left = int(cost["throttleStatus"]["currentlyAvailable"])
                if left < 1:
                    break
                # products(first: n) costs 2 + n points
                first = min(249, left - 2)
                if first >= 1:
                    self.graphql(client, f"{{ products(first: {first}) {{ nodes {{ id }} }} }}")
            assert self.graphql(client, "{ shop { name } }")["errors"][0]["extensions"] == {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            }

    def refill(self) -> None:
        """The bucket's 20 seconds of restore go by."""
        self.clock.now += 20

    def set_price(self, sku: str, price: Decimal) -> None:
        response = httpx.post(
            f"{self.url}/_sandbox/shopify/variants/{sku}/price",
            json={"price": str(price)},
            trust_env=False,
        )
        assert response.status_code == 200, response.text

    def calls(self, name: str) -> int:
        return int(self.app.state.calls.get(name, 0))


@pytest.fixture
async def shop(dataset: Dataset) -> AsyncIterator[Shop]:
    clock = HeldClock()
    port = free_port()
    app = shopify_app(dataset, public_url=f"http://127.0.0.1:{port}", clock=clock)
    with serving(app, port) as url:
        async with FaultProxy(url) as proxy:
            yield Shop(url, app, clock, proxy)


def shop_settings(settings: Any, shop: Shop, **cart: Any) -> Any:
    return settings.with_changes(shopify={"base_url": shop.proxy.url}, cart=cart)


@pytest.fixture
def shopper_token(tokens: Any, dataset: Dataset) -> str:
    return str(tokens.customer(dataset.crm_contacts[7].id))


@pytest.fixture
async def gateway_on_shop(make_gateway: Any, settings: Any, shop: Shop) -> AsyncIterator[Any]:
    async with make_gateway(shop_settings(settings, shop)) as client:
        yield client


@pytest.fixture
def shopper(gateway_on_shop: Any, shopper_token: str) -> Device:
    return Device(gateway_on_shop, {"authorization": f"Bearer {shopper_token}"})


def fail(shop: Shop, how: str) -> str:
    """Makes the shop fail `how`; the code a read of it then gets."""
    if how == "throttled":
        shop.drain()
        return "UPSTREAM_THROTTLED"
    shop.proxy.set(Fault.REFUSE)
    return "UPSTREAM_UNAVAILABLE"


def recover(shop: Shop) -> None:
    shop.proxy.set(Fault.PASS)
    shop.refill()


async def new_cart(device: Device) -> dict[str, Any]:
    payload = (await device.run(CART_CREATE))["cartCreate"]
    assert payload["userErrors"] == []
    return dict(payload["cart"])


async def seen_price(device: Device, sku: str) -> Decimal:
    """The shopper opens the product page: the gateway reads its price and stock."""
    product = (await device.run(PRODUCT_PAGE, sku=sku))["product"]
    return Decimal(product["price"]["amount"])


@pytest.mark.parametrize("how", ["throttled", "down"])
async def test_an_add_while_the_price_source_fails_lands_flagged_at_the_recent_price(
    shop: Shop, shopper: Device, dataset: Dataset, how: str
) -> None:
    sku = online_skus(dataset)[0]
    cart = await new_cart(shopper)
    price = await seen_price(shopper, sku)
    code = fail(shop, how)
    asked = shop.calls(PRICES)

    answer = await shopper.raw(ADD_AND_COST, cartId=cart["id"], lines=[{"sku": sku}])
    added = answer["data"]["cartLinesAdd"]
    assert added["userErrors"] == []
    assert added["cart"]["version"] == cart["version"] + 1
    (line,) = added["cart"]["lines"]
    assert (line["sku"], line["quantity"], line["needsRepricing"]) == (sku, 1, True)
    assert Decimal(line["addedUnitPrice"]["amount"]) == price
    # the cart's cost is today's price, which nobody can read now: that field alone fails
    assert added["cart"]["cost"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in answer["errors"]] == [
        (["cartLinesAdd", "cart", "cost"], code)
    ]
    if how == "throttled":
        assert shop.calls(PRICES) > asked  # the source was asked first

    recover(shop)
    now = (await shopper.run(CART, id=cart["id"]))["cart"]["lines"][0]
    assert Decimal(now["unitPrice"]["amount"]) == price
    assert now["priceChanged"] is False


async def test_a_sku_seen_in_a_catalog_listing_is_added_while_throttled(
    shop: Shop, shopper: Device, dataset: Dataset
) -> None:
    cart = await new_cart(shopper)
    listing = await shopper.run(LISTING)
    node = listing["products"]["edges"][0]["node"]
    sku, price = node["sku"], node["price"]["amount"]
    assert node["availability"]["online"]["quantity"] >= 1
    shop.drain()
    added = (await shopper.run(ADD, cartId=cart["id"], lines=[{"sku": sku}]))["cartLinesAdd"]
    assert added["userErrors"] == []
    (line,) = added["cart"]["lines"]
    assert (line["addedUnitPrice"]["amount"], line["needsRepricing"]) == (price, True)


async def test_a_flagged_line_keeps_its_flag_through_the_login_merge(
    shop: Shop, gateway_on_shop: Any, shopper: Device, dataset: Dataset
) -> None:
    a, b = online_skus(dataset, count=2)
    guest = Device(gateway_on_shop, {})
    await seen_price(guest, a)
    created = (await guest.run(CART_CREATE))["cartCreate"]
    holder = Device(gateway_on_shop, {"x-cart-token": created["cartToken"]})
    shop.drain()
    added = await holder.run(ADD, cartId=created["cart"]["id"], lines=[{"sku": a}])
    assert added["cartLinesAdd"]["userErrors"] == []
    shop.refill()
    mine = await new_cart(shopper)
    await shopper.run(ADD, cartId=mine["id"], lines=[{"sku": a}, {"sku": b}])
    merged = (await shopper.run(MERGE_GUEST, token=created["cartToken"]))["cartMergeGuest"]
    assert merged["userErrors"] == []
    assert sorted(
        (x["sku"], x["quantity"], x["needsRepricing"]) for x in merged["cart"]["lines"]
    ) == sorted([(a, 2, True), (b, 1, False)])


@pytest.mark.parametrize("how", ["throttled", "down"])
async def test_an_add_of_a_sku_not_read_lately_fails_with_the_upstreams_error(
    shop: Shop, shopper: Device, dataset: Dataset, how: str
) -> None:
    seen, unseen = online_skus(dataset, count=2)
    cart = await new_cart(shopper)
    await seen_price(shopper, seen)
    code = fail(shop, how)

    for lines in ([{"sku": unseen}], [{"sku": seen}, {"sku": unseen}]):
        answer = await shopper.raw(ADD, cartId=cart["id"], lines=lines)
        assert answer["data"] is None  # the payload is non-null: nothing of it
        assert [
            (e["extensions"]["code"], e["extensions"]["service"]) for e in answer["errors"]
        ] == [(code, "shopify")]
    recover(shop)
    unchanged = (await shopper.run(CART, id=cart["id"]))["cart"]
    assert (unchanged["version"], unchanged["lines"]) == (cart["version"], [])


async def test_with_no_recent_catalog_an_add_fails_as_before(
    make_gateway: Any, settings: Any, shop: Shop, shopper_token: str, dataset: Dataset
) -> None:
    off = shop_settings(settings, shop).with_changes(
        cache={**settings.cache.model_dump(), "recent_catalog_ttl_seconds": 0}
    )
    async with make_gateway(off) as gateway:
        device = Device(gateway, {"authorization": f"Bearer {shopper_token}"})
        sku = online_skus(dataset)[0]
        cart = await new_cart(device)
        await seen_price(device, sku)
        shop.drain()
        answer = await device.raw(ADD, cartId=cart["id"], lines=[{"sku": sku}])
        assert answer["data"] is None  # the payload is non-null: nothing of it
        assert answer["errors"][0]["extensions"]["code"] == "UPSTREAM_THROTTLED"


async def test_an_add_while_the_inventory_is_down_is_checked_against_the_recent_stock(
    make_gateway: Any, settings: Any, sandbox: Any, shopper_token: str, dataset: Dataset
) -> None:
    async with FaultProxy(sandbox.url("square")) as square:
        inventory_down = settings.with_changes(square={"base_url": square.url})
        async with make_gateway(inventory_down) as gateway:
            device = Device(gateway, {"authorization": f"Bearer {shopper_token}"})
            sku = online_skus(dataset, at_least=5)[0]
            held = stock_at(dataset, sku, WAREHOUSE_LOCATION_ID)
            cart = await new_cart(device)
            await seen_price(device, sku)
            square.set(Fault.REFUSE)

            added = (await device.run(ADD, cartId=cart["id"], lines=[{"sku": sku}]))["cartLinesAdd"]
            assert added["userErrors"] == []
            # the price was read from its source: nothing to re-price
            assert added["cart"]["lines"][0]["needsRepricing"] is False
            line_id = added["cart"]["lines"][0]["id"]
            lines = [{"id": line_id, "quantity": held + 1}]
            too_many = (await device.run(UPDATE, cartId=cart["id"], lines=lines))["cartLinesUpdate"]
            assert codes(too_many) == ["OUT_OF_STOCK"]  # by the stock the inventory gave
            assert too_many["userErrors"][0]["message"] == (
                f"Only {held} of {sku} available for this cart's fulfilment."
            )
            # checkout counts stock only as the inventory says it now
            answer = await device.raw(CHECKOUT_PRICES, cartId=cart["id"], key="inv-1")
            assert answer["data"] is None
            assert answer["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"


async def flagged_cart(
    shop: Shop, device: Device, sku: str, quantity: int = 1
) -> tuple[dict[str, Any], Decimal]:
    """A cart (id, version) whose line of `sku` went in while Shopify throttled, and the
    price it went in at. Shopify answers again afterwards."""
    cart = await new_cart(device)
    price = await seen_price(device, sku)
    shop.drain()
    lines = [{"sku": sku, "quantity": quantity}]
    added = (await device.run(ADD, cartId=cart["id"], lines=lines))["cartLinesAdd"]
    assert added["userErrors"] == []
    assert added["cart"]["lines"][0]["needsRepricing"] is True
    shop.refill()
    return added["cart"], price


@pytest.fixture
async def tolerant_shopper(
    make_gateway: Any, settings: Any, shop: Shop, shopper_token: str
) -> AsyncIterator[Device]:
    """A shopper on a gateway that lets a re-priced line rise 5% before refusing it."""
    async with make_gateway(shop_settings(settings, shop, reprice_tolerance_percent="5")) as gw:
        yield Device(gw, {"authorization": f"Bearer {shopper_token}"})


async def test_checkout_refuses_a_flagged_line_that_rose_past_the_tolerance(
    shop: Shop, tolerant_shopper: Device, dataset: Dataset
) -> None:
    device = tolerant_shopper
    sku = online_skus(dataset)[0]
    cart, was = await flagged_cart(shop, device, sku, quantity=2)
    now = (was * Decimal("1.06")).quantize(Decimal("0.01"))
    shop.set_price(sku, now)

    refused = (await device.run(CHECKOUT_PRICES, cartId=cart["id"], key="k1"))["checkout"]
    assert refused["order"] is None
    assert refused["userErrors"] == [
        {
            "code": "PRICE_CHANGED",
            "field": ["lines", "0"],
            "reason": None,
            "message": f"{sku} was added at {was} USD while prices could not be read and costs "
            f"{now} USD now, more than 5% above: review the cart (cartLinesReprice accepts "
            "today's prices) and check out again.",
        }
    ]
    # the cart is as it was, and shows both prices
    assert refused["cart"]["status"] == "OPEN"
    assert refused["cart"]["version"] == cart["version"]
    (line,) = refused["cart"]["lines"]
    assert Decimal(line["addedUnitPrice"]["amount"]) == was
    assert Decimal(line["unitPrice"]["amount"]) == now
    assert shop.calls(CHECKS_OUT) == 0
    again = (await device.run(CHECKOUT_PRICES, cartId=cart["id"], key="k1"))["checkout"]
    assert codes(again) == ["PRICE_CHANGED"]

    # the shopper accepts today's price, at the version they were shown
    accepted = (await device.run(REPRICE, cartId=cart["id"], v=cart["version"]))["cartLinesReprice"]
    assert accepted["userErrors"] == []
    (line,) = accepted["cart"]["lines"]
    assert (Decimal(line["addedUnitPrice"]["amount"]), line["needsRepricing"]) == (now, False)
    assert accepted["cart"]["version"] == cart["version"] + 1
    placed = (await device.run(CHECKOUT_PRICES, cartId=cart["id"], key="k2"))["checkout"]
    assert placed["userErrors"] == []
    assert Decimal(placed["order"]["total"]["amount"]) == now * 2
    assert shop.calls(CHECKS_OUT) == 1


async def test_a_quote_shown_after_the_rise_is_honoured_as_quoted(
    shop: Shop, shopper: Device, dataset: Dataset
) -> None:
    """A quote is priced from the source and shown: checking out with it is the shopper
    accepting today's price, so the flagged line is not refused."""
    sku = online_skus(dataset)[0]
    cart, was = await flagged_cart(shop, shopper, sku)
    now = was + 1
    shop.set_price(sku, now)
    quote = (await shopper.run(QUOTE))["cart"]["quote"]
    assert Decimal(quote["total"]["amount"]) == now
    placed = (await shopper.run(QUOTED_CHECKOUT, cartId=cart["id"], q=quote["token"]))["checkout"]
    assert placed["userErrors"] == []
    assert Decimal(placed["order"]["total"]["amount"]) == now


@pytest.mark.parametrize("change", ["1.05", "1.00", "0.80"])
async def test_checkout_charges_todays_price_when_it_moved_within_the_tolerance_or_fell(
    shop: Shop, tolerant_shopper: Device, dataset: Dataset, change: str
) -> None:
    device = tolerant_shopper
    sku = online_skus(dataset)[0]
    cart, was = await flagged_cart(shop, device, sku, quantity=3)
    now = (was * Decimal(change)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    shop.set_price(sku, now)
    placed = (await device.run(CHECKOUT_PRICES, cartId=cart["id"], key="k"))["checkout"]
    assert placed["userErrors"] == []
    assert Decimal(placed["order"]["total"]["amount"]) == now * 3
    assert placed["cart"]["status"] == "CHECKED_OUT"


async def test_checkout_never_places_an_order_while_the_price_source_fails(
    shop: Shop, shopper: Device, dataset: Dataset
) -> None:
    sku = online_skus(dataset)[0]
    cart, price = await flagged_cart(shop, shopper, sku)
    shop.drain()
    answer = await shopper.raw(CHECKOUT_PRICES, cartId=cart["id"], key="k")
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "UPSTREAM_THROTTLED"
    refused = await shopper.raw(REPRICE, cartId=cart["id"])  # nor accepts a recent price
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "UPSTREAM_THROTTLED"
    assert shop.calls(CHECKS_OUT) == 0
    shop.refill()
    after = (await shopper.run(CART, id=cart["id"]))["cart"]
    assert (after["status"], after["version"]) == ("OPEN", cart["version"])
    # the same key goes through once the source answers: nothing was kept from the failure
    placed = (await shopper.run(CHECKOUT_PRICES, cartId=cart["id"], key="k"))["checkout"]
    assert placed["userErrors"] == []
    assert Decimal(placed["order"]["total"]["amount"]) == price


EACH = 20  # adds per device and SKU: 80 at once


async def test_many_adds_while_throttled_lose_none(
    shop: Shop, gateway_on_shop: Any, shopper_token: str, dataset: Dataset
) -> None:
    """The issue's case, scaled to the test machine: concurrent adds from two devices, each
    needing a price Shopify is throttling; every one lands, and the quantities add up
    exactly. (At 200, as in the issue, the in-process gateway's MongoDB calls start missing
    their 2 s timeout on a loaded 2-core machine, throttle or not: the known flake of
    test_cart::test_two_devices_adding_at_once_both_land.)"""
    web, app = (
        Device(gateway_on_shop, {"authorization": f"Bearer {shopper_token}"}) for _ in range(2)
    )
    skus = online_skus(dataset, at_least=200, count=2)
    cart = await new_cart(web)
    for sku in skus:
        await seen_price(web, sku)
    shop.drain()
    asked = shop.calls(PRICES)

    async def add(device: Device, sku: str) -> Any:
        return await device.raw(ADD, cartId=cart["id"], lines=[{"sku": sku}])

    answers = await asyncio.gather(
        *(add(device, sku) for device in (web, app) for sku in skus for _ in range(EACH))
    )
    assert [a for a in answers if "errors" in a or a["data"]["cartLinesAdd"]["userErrors"]] == []
    assert shop.calls(PRICES) > asked  # Shopify was asked, and throttled
    final = (await app.run(ADD, cartId=cart["id"], lines=[{"sku": skus[0]}]))["cartLinesAdd"]
    assert sorted(
        (x["sku"], x["quantity"], x["needsRepricing"]) for x in final["cart"]["lines"]
    ) == sorted([(skus[0], 2 * EACH + 1, True), (skus[1], 2 * EACH, True)])
    assert final["cart"]["version"] == cart["version"] + 4 * EACH + 1
