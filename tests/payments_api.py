"""What the payment tests share: the Sandbox's card tokens, the POS terminal taking a store
order's payment, and the Square and Shopify simulators' own view of payments and orders."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from sandbox.square.app import SANDBOX_ACCESS_TOKEN

CARD_OK = "cnon:card-nonce-ok"
CARD_DECLINED = "cnon:card-nonce-declined"
CARD_BAD_CVV = "cnon:card-nonce-rejected-cvv"


def square_world(sandbox: Any) -> Any:
    return sandbox.apps["square"].app.state.square


def payments_for_cart(sandbox: Any, cart_id: str) -> list[dict[str, Any]]:
    """The Square payments a checkout of this cart made (its draft's note names the cart)."""
    note = f"omnigate cart {cart_id}"
    return [p for p in square_world(sandbox).payments.values() if p.get("note") == note]


def shopify_order(sandbox: Any, order_id: str) -> dict[str, Any]:
    found: dict[str, Any] = sandbox.apps["shopify"].app.state.shop.node(order_id)
    return found


async def pay_at_terminal(sandbox: Any, order_id: str) -> dict[str, Any]:
    """The POS terminal takes the store order's payment: CreatePayment for the amount due,
    attached to the order and completed at once, as Square's POS does."""
    due = square_world(sandbox).amount_due(order_id)
    async with httpx.AsyncClient(base_url=sandbox.url("square")) as client:
        answer = await client.post(
            "/v2/payments",
            headers={"Authorization": f"Bearer {SANDBOX_ACCESS_TOKEN}"},
            json={
                "source_id": CARD_OK,
                "idempotency_key": uuid.uuid4().hex,
                "amount_money": {"amount": due, "currency": "USD"},
                "order_id": order_id,
                "autocomplete": True,
            },
        )
    answer.raise_for_status()
    payment: dict[str, Any] = answer.json()["payment"]
    return payment
