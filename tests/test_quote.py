"""Signed price quotes: the total shown on one channel is what another channel charges,
while the quote is unexpired and the cart unchanged; anything else is refused precisely."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cart_api import CART_CREATE, LINES_ADD, SET_FULFILLMENT, Device, codes, staff_at
from cart_api import stocked_skus as skus_at
from offers_api import put_promotions
from production_secrets import VENDOR_SECRETS

from commerce.offers import Conditions, OfferKind, Promotion
from commerce.offers.quotes import QuoteLine, QuoteProblem, QuoteSigner, verify
from gateway.settings import Environment, Settings

QUOTE = """
query ($channel: SalesChannel) {
  cart { id version quote(channel: $channel) { token expiresAt channel total { amount } } }
}
"""
CHECKOUT_QUOTED = """
mutation (
  $cartId: ID!, $channel: SalesChannel!, $key: String!, $quote: String, $paymentToken: String
) {
  checkout(
    cartId: $cartId, channel: $channel, idempotencyKey: $key, quote: $quote,
    paymentToken: $paymentToken
  ) {
    order { id channel total { amount } }
    cart { status }
    userErrors { field code }
  }
}
"""


@pytest.fixture
def shopper(gateway, tokens, dataset) -> Device:
    customer = dataset.crm_contacts[-45].id
    return Device(gateway, {"authorization": f"Bearer {tokens.customer(customer)}"})


async def pickup_cart(shopper: Device, dataset, store_id: str) -> dict[str, Any]:
    sku = skus_at(dataset, store_id, 3, 1)[0]
    cart = (await shopper.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    picked = await shopper.run(SET_FULFILLMENT, cartId=cart["id"], type="PICKUP", storeId=store_id)
    assert picked["cartSetFulfillment"]["userErrors"] == []
    return dict(picked["cartSetFulfillment"]["cart"])


async def test_a_web_quote_is_charged_as_quoted_at_the_store(
    shopper, gateway, tokens, dataset, settings
):
    """The app showed a web-only discount; checking out at the store's till with the quote
    charges that same total, though the store alone would not give the discount."""
    await put_promotions(
        settings,
        Promotion(
            id="web-10",
            kind=OfferKind.PERCENTAGE,
            value=Decimal(10),
            conditions=Conditions(channels=("WEB", "MOBILE")),
        ),
    )
    store_id = dataset.stores[1].id
    cart = await pickup_cart(shopper, dataset, store_id)
    subtotal = Decimal(cart["cost"]["subtotal"]["amount"])
    quoted = (await shopper.run(QUOTE, channel="WEB"))["cart"]["quote"]
    assert quoted["channel"] == "WEB"
    assert Decimal(quoted["total"]["amount"]) < subtotal
    till = staff_at(gateway, tokens, store_id)
    placed = (
        await till.run(
            CHECKOUT_QUOTED, cartId=cart["id"], channel="STORE", key="q-1", quote=quoted["token"]
        )
    )["checkout"]
    assert placed["userErrors"] == []
    assert placed["order"]["channel"] == "STORE"
    assert Decimal(placed["order"]["total"]["amount"]) == Decimal(quoted["total"]["amount"])


async def test_a_quote_for_a_changed_cart_is_stale(shopper, dataset):
    sku, other = skus_at(dataset, dataset.warehouse.id, 20, 2)
    cart = (await shopper.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    token = (await shopper.run(QUOTE))["cart"]["quote"]["token"]
    await shopper.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": other}])
    refused = (
        await shopper.run(CHECKOUT_QUOTED, cartId=cart["id"], channel="WEB", key="q-2", quote=token)
    )["checkout"]
    assert refused["userErrors"] == [{"field": ["quote"], "code": "QUOTE_STALE"}]
    assert refused["cart"]["status"] == "OPEN"


async def test_expired_and_tampered_quotes_are_refused(shopper, dataset, gateway):
    sku = skus_at(dataset, dataset.warehouse.id, 20, 1)[0]
    cart = (await shopper.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    token = (await shopper.run(QUOTE))["cart"]["quote"]["token"]
    payload, signature = token.split(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature
    quotes: QuoteSigner = gateway.http._transport.app.state.services.quotes
    _, expired = quotes.issue(
        cart_id=cart["id"],
        cart_version=cart["version"],
        channel="WEB",
        currency="USD",
        lines=(QuoteLine(sku, 1, Decimal("0.01")),),
        promotion_ids=(),
        loyalty_points=0,
        subtotal=Decimal("0.01"),
        discount=Decimal(0),
        now=datetime.now(UTC) - timedelta(days=1),
    )
    for bad, code in [
        (tampered, "QUOTE_INVALID"),
        ("nonsense", "QUOTE_INVALID"),
        (expired, "QUOTE_EXPIRED"),
    ]:
        refused = (
            await shopper.run(
                CHECKOUT_QUOTED, cartId=cart["id"], channel="WEB", key=code, quote=bad
            )
        )["checkout"]
        assert codes(refused) == [code]
        assert refused["order"] is None


def test_a_quote_signed_with_another_secret_is_invalid() -> None:
    signer = QuoteSigner("one-secret", 60)
    _, token = signer.issue(
        cart_id="c",
        cart_version=1,
        channel="WEB",
        currency="USD",
        lines=(),
        promotion_ids=(),
        loyalty_points=0,
        subtotal=Decimal(1),
        discount=Decimal(0),
    )
    assert verify(token, "another-secret", datetime.now(UTC)) is QuoteProblem.QUOTE_INVALID
    assert not isinstance(verify(token, "one-secret", datetime.now(UTC)), QuoteProblem)


def test_production_refuses_the_sandbox_quote_secret() -> None:
    real = {
        **VENDOR_SECRETS,
        "auth": {"issuer": "https://login.example/", "audience": "https://api.example"},
    }
    with pytest.raises(ValueError, match=r"offers\.quote_secret.*offers\.webhook_secret"):
        Settings(_env_file=None, env=Environment.PRODUCTION, **real)  # type: ignore[call-arg, arg-type]
    Settings(
        _env_file=None,
        env=Environment.PRODUCTION,
        offers={"quote_secret": "real", "webhook_secret": "real"},
        **real,
    )  # type: ignore[call-arg, arg-type]
