"""Payments API: CreatePayment, GetPayment, CompletePayment, CancelPayment, ListPayments.

Square's contract (Payments API reference; "Delayed capture of a card payment"; "Sandbox
payments": https://developer.squareup.com/docs/devtools/sandbox/payments):

- `POST /v2/payments` takes a `source_id` (a Web Payments SDK card token; in the Sandbox the
  documented test tokens below), an `idempotency_key` of 1..45 characters, `amount_money`
  and `autocomplete` (true by default: the card is charged at once, COMPLETED; false only
  authorises it, APPROVED, to be completed or cancelled later, or voided by Square after
  the `delay_duration`); `order_id` attaches it to an Orders API order, whose tenders it
  becomes once completed; `reference_id` at most 40 characters, `note` at most 500;
- the same key and body answer the first payment again and charge nothing; the same key
  with another body is 400 IDEMPOTENCY_KEY_REUSED;
- a declined card is 400 with category PAYMENT_METHOD_ERROR and the decline's code
  (CARD_DECLINED, CVV_FAILURE, ...), detail "Authorization error: '<CODE>'": no money moves;
- `POST /v2/payments/{id}/complete` captures an APPROVED payment (COMPLETED, its card
  CAPTURED); `POST /v2/payments/{id}/cancel` voids one (CANCELED, card VOIDED). Completing a
  completed payment, or cancelling a cancelled one, answers it as it is (the retry of a call
  whose answer was lost); completing a cancelled one, or cancelling a completed one, is
  400 BAD_REQUEST.

The simulated seller never sees a real card: every accepted token is a Visa ending 1111.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sandbox.dataset import CURRENCY
from sandbox.square.create_order import base62
from sandbox.square.envelope import SquareApiError, invalid_request
from sandbox.square.idempotency import fingerprint, first_use, refuse_unknown_fields
from sandbox.square.shapes import rfc3339
from sandbox.square.world import KeyedPayment, SquareWorld

IDEMPOTENCY_KEY_MAX = 45
REFERENCE_ID_MAX = 40
NOTE_MAX = 500
# the delay Square gives an authorised card payment before it acts (`delay_action`)
DELAY_DURATION = "PT168H"
ACCEPTED_TOKENS = frozenset({"cnon:card-nonce-ok"})
# Sandbox test tokens that decline, and the error code each answers with.
DECLINING_TOKENS = {
    "cnon:card-nonce-declined": "CARD_DECLINED",
    "cnon:card-nonce-rejected-cvv": "CVV_FAILURE",
    "cnon:card-nonce-rejected-postalcode": "ADDRESS_VERIFICATION_FAILURE",
    "cnon:card-nonce-rejected-expiration": "INVALID_EXPIRATION",
    "cnon:card-nonce-already-used": "CARD_TOKEN_USED",
}
_FIELDS = frozenset(
    {
        "source_id",
        "idempotency_key",
        "amount_money",
        "autocomplete",
        "order_id",
        "customer_id",
        "location_id",
        "reference_id",
        "note",
        "buyer_email_address",
        "verification_token",
        "delay_duration",
        "delay_action",
    }
)


def _money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": CURRENCY}


async def create_payment(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    refuse_unknown_fields(body, _FIELDS, "CreatePaymentRequest")
    key = _string(body, "idempotency_key", IDEMPOTENCY_KEY_MAX, required=True)
    assert key is not None
    first = first_use(world.payment_keys, key, body)
    if first is not None:
        if first.payment_id in world.declined_keys:
            raise _declined(world.declined_keys[first.payment_id])
        return {"payment": world.payments[first.payment_id]}
    source_id = _string(body, "source_id", None, required=True)
    amount = _amount(body)
    autocomplete = body.get("autocomplete", True)
    if not isinstance(autocomplete, bool):
        raise invalid_request(
            "EXPECTED_BOOLEAN", "`autocomplete` must be a boolean.", "autocomplete"
        )
    reference_id = _string(body, "reference_id", REFERENCE_ID_MAX)
    note = _string(body, "note", NOTE_MAX)
    customer_id = _string(body, "customer_id", None)
    order_id = _string(body, "order_id", None)
    location_id = _string(body, "location_id", None)
    if order_id is not None:
        order = world.orders_by_id.get(order_id)
        if order is None:
            raise SquareApiError(
                404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Order not found.", "order_id"
            )
        location_id = location_id or order.location_id
        due = world.amount_due(order_id)
        if amount > due:
            raise invalid_request(
                "INVALID_VALUE",
                f"`amount_money` exceeds the order's amount due of {due}.",
                "amount_money.amount",
            )
    location_id = location_id or world.dataset.locations[0].id
    if location_id not in {loc.id for loc in world.dataset.locations}:
        raise invalid_request(
            "INVALID_VALUE", f"Location `{location_id}` not found.", "location_id"
        )
    payment_id = base62(f"payment:{len(world.payment_keys)}", 30)
    if source_id in DECLINING_TOKENS:
        # a refused card uses its key up: the same call answers the same refusal
        world.payment_keys[key] = KeyedPayment(fingerprint(body), payment_id)
        world.declined_keys[payment_id] = DECLINING_TOKENS[source_id]
        raise _declined(DECLINING_TOKENS[source_id])
    if source_id not in ACCEPTED_TOKENS and source_id not in ("CASH", "EXTERNAL"):
        raise SquareApiError(
            404,
            "INVALID_REQUEST_ERROR",
            "NOT_FOUND",
            "Card nonce not found in this `sandbox` application environment.",
            "source_id",
        )
    now = rfc3339(world.wall_clock())
    payment: dict[str, Any] = {
        "id": payment_id,
        "created_at": now,
        "updated_at": now,
        "amount_money": _money(amount),
        "total_money": _money(amount),
        "approved_money": _money(amount),
        "status": "APPROVED",
        "delay_duration": DELAY_DURATION,
        "delay_action": "CANCEL",
        "source_type": "CARD",
        "card_details": {
            "status": "AUTHORIZED",
            "card": {
                "card_brand": "VISA",
                "last_4": "1111",
                "exp_month": 11,
                "exp_year": 2030,
                "fingerprint": "sq-1-sandbox-visa-1111",
                "card_type": "CREDIT",
                "prepaid_type": "NOT_PREPAID",
                "bin": "411111",
            },
            "entry_method": "KEYED",
            "cvv_status": "CVV_ACCEPTED",
            "avs_status": "AVS_ACCEPTED",
            "statement_description": "SQ *OMNIGATE SANDBOX",
            "card_payment_timeline": {"authorized_at": now},
        },
        "location_id": location_id,
        "order_id": order_id or base62(f"payment-order:{payment_id}", 27),
        "capabilities": [
            "EDIT_AMOUNT_UP",
            "EDIT_AMOUNT_DOWN",
            "EDIT_TIP_AMOUNT_UP",
            "EDIT_TIP_AMOUNT_DOWN",
        ],
        "receipt_number": payment_id[:4],
        "receipt_url": f"https://squareupsandbox.com/receipt/preview/{payment_id}",
        "application_details": {
            "square_product": "ECOMMERCE_API",
            "application_id": "sandbox-sq0idb-omnigate",
        },
        "version_token": _version_token(payment_id, 1),
    }
    if reference_id is not None:
        payment["reference_id"] = reference_id
    if note is not None:
        payment["note"] = note
    if customer_id is not None:
        payment["customer_id"] = customer_id
    world.payments[payment_id] = payment
    world.payment_keys[key] = KeyedPayment(fingerprint(body), payment_id)
    if autocomplete:
        _complete(world, payment)
    return {"payment": payment}


async def get_payment(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    return {"payment": _payment(world, request.path_params["payment_id"])}


async def list_payments(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Newest first (Square's default sort is by `created_at` descending); no paging: the
    simulator holds few payments."""
    world: SquareWorld = request.app.state.square
    location_id = request.query_params.get("location_id")
    found = [
        p
        for p in reversed(world.payments.values())
        if location_id is None or p["location_id"] == location_id
    ]
    return {"payments": found} if found else {}


async def complete_payment(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    payment = _payment(world, request.path_params["payment_id"])
    token = body.get("version_token")
    if token is not None and token != payment["version_token"]:
        raise invalid_request(
            "VERSION_MISMATCH", "The payment changed since `version_token`.", "version_token"
        )
    if payment["status"] == "COMPLETED":
        return {"payment": payment}
    if payment["status"] != "APPROVED":
        raise invalid_request(
            "BAD_REQUEST", f"A {payment['status']} payment cannot be completed.", "payment_id"
        )
    _complete(world, payment)
    return {"payment": payment}


async def cancel_payment(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    payment = _payment(world, request.path_params["payment_id"])
    if payment["status"] == "CANCELED":
        return {"payment": payment}
    if payment["status"] != "APPROVED":
        raise invalid_request(
            "BAD_REQUEST", f"A {payment['status']} payment cannot be canceled.", "payment_id"
        )
    now = rfc3339(world.wall_clock())
    payment["status"] = "CANCELED"
    payment["updated_at"] = now
    payment["card_details"]["status"] = "VOIDED"
    payment["card_details"]["card_payment_timeline"]["voided_at"] = now
    payment.pop("capabilities", None)
    _bump(payment)
    return {"payment": payment}


def _complete(world: SquareWorld, payment: dict[str, Any]) -> None:
    now = rfc3339(world.wall_clock())
    payment["status"] = "COMPLETED"
    payment["updated_at"] = now
    payment["card_details"]["status"] = "CAPTURED"
    payment["card_details"]["card_payment_timeline"]["captured_at"] = now
    for name in ("delay_duration", "delay_action"):
        payment.pop(name, None)
    _bump(payment)
    world.pay_order(payment)


def _bump(payment: dict[str, Any]) -> None:
    version = int(payment["version_token"].rsplit("-", 1)[1]) + 1
    payment["version_token"] = _version_token(payment["id"], version)


def _version_token(payment_id: str, version: int) -> str:
    return f"{payment_id[:8]}-{version}"


def _payment(world: SquareWorld, payment_id: str) -> dict[str, Any]:
    payment = world.payments.get(payment_id)
    if payment is None:
        raise SquareApiError(
            404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Could not find payment.", "payment_id"
        )
    return payment


def _declined(code: str) -> SquareApiError:
    return SquareApiError(400, "PAYMENT_METHOD_ERROR", code, f"Authorization error: '{code}'")


def _string(
    body: dict[str, Any], name: str, limit: int | None, *, required: bool = False
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid_request("MISSING_REQUIRED_PARAMETER", f"Missing `{name}`.", name)
        return None
    if not isinstance(value, str):
        raise invalid_request("EXPECTED_STRING", f"`{name}` must be a string.", name)
    if not value:
        raise invalid_request("VALUE_EMPTY", f"`{name}` must not be empty.", name)
    if limit is not None and len(value) > limit:
        raise invalid_request(
            "VALUE_TOO_LONG", f"`{name}` must be at most {limit} characters.", name
        )
    return value


def _amount(body: dict[str, Any]) -> int:
    money = body.get("amount_money")
    if not isinstance(money, dict):
        raise invalid_request(
            "MISSING_REQUIRED_PARAMETER", "Missing `amount_money`.", "amount_money"
        )
    amount, currency = money.get("amount"), money.get("currency")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise invalid_request(
            "INVALID_VALUE",
            "`amount_money.amount` must be a whole number of cents.",
            "amount_money.amount",
        )
    if currency != CURRENCY:
        raise invalid_request(
            "INVALID_VALUE",
            f"`amount_money.currency` must be the seller's currency {CURRENCY}.",
            "amount_money.currency",
        )
    return amount
