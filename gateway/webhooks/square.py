"""Square webhooks: signature and the Square ids an event concerns.

`x-square-hmacsha256-signature` is base64 HMAC-SHA256, keyed with the subscription's
signature key, of the notification URL followed by the raw body
(developer.squareup.com/docs/webhooks/step3validate). The body names the event
(`event_id`, `type`) and carries `data: {type, id, object: {<type>: {...}}}`.
A completed payment's event names the order it pays (`square_paid_order`).
"""

from __future__ import annotations

from typing import Any

from gateway.webhooks.signing import hmac_sha256_base64, require_signature

SIGNATURE_HEADER = "x-square-hmacsha256-signature"


def verify_square(
    signature_key: str, notification_url: str, body: bytes, signature: str | None
) -> None:
    """Raise InvalidSignature unless `signature` signs `notification_url` + `body`."""
    expected = hmac_sha256_base64(signature_key.encode(), notification_url.encode() + body)
    require_signature(expected, signature)


def square_delivery_id(event: dict[str, Any]) -> str | None:
    """Square resends a notification with the same `event_id`."""
    event_id = event.get("event_id")
    return event_id if isinstance(event_id, str) and event_id else None


def square_ids(event: dict[str, Any]) -> set[str]:
    """Square customer and loyalty account ids whose cached profiles the event makes stale.

    customer.created/updated/deleted: the customer (`data.id`), and on a merge the customers
    merged away (`event_context.merge`). loyalty.account.*: the account and its customer;
    loyalty.event.created: the account. Other events change nothing a profile holds.
    """
    event_type = event.get("type")
    data = _object(event.get("data"))
    found: list[Any] = []
    if isinstance(event_type, str) and event_type.startswith("customer."):
        obj = _object(data.get("object"))
        merge = _object(_object(obj.get("event_context")).get("merge"))
        found += [data.get("id"), _object(obj.get("customer")).get("id")]
        found += [merge.get("to_customer_id"), *_list(merge.get("from_customer_ids"))]
    elif isinstance(event_type, str) and event_type.startswith("loyalty."):
        obj = _object(data.get("object"))
        account = _object(obj.get("loyalty_account"))
        found += [account.get("id"), account.get("customer_id")]
        found.append(_object(obj.get("loyalty_event")).get("loyalty_account_id"))
    return {value for value in found if isinstance(value, str) and value}


def square_paid_order(event: dict[str, Any]) -> str | None:
    """The Orders API order a completed payment pays (payment.created / payment.updated
    with the payment COMPLETED and an `order_id`): a store order paid at the terminal."""
    event_type = event.get("type")
    if event_type not in ("payment.created", "payment.updated"):
        return None
    payment = _object(_object(_object(event.get("data")).get("object")).get("payment"))
    order_id = payment.get("order_id")
    if payment.get("status") != "COMPLETED" or not isinstance(order_id, str) or not order_id:
        return None
    return order_id


# the event types that name an order, and where: {type prefix: (object key, id key)}
_ORDER_NAMED_BY = {
    "payment.": ("payment", "order_id"),
    "refund.": ("refund", "order_id"),
    "order.fulfillment.": ("order_fulfillment_updated", "order_id"),
    "order.created": ("order_created", "order_id"),
    "order.updated": ("order_updated", "order_id"),
}


def square_order_ids(event: dict[str, Any]) -> set[str]:
    """The Orders API order a payment, refund, order or fulfilment event concerns: its
    followers re-read it (commerce/order_follow.py)."""
    event_type = event.get("type")
    if not isinstance(event_type, str):
        return set()
    obj = _object(_object(event.get("data")).get("object"))
    for prefix, (key, id_key) in _ORDER_NAMED_BY.items():
        if event_type.startswith(prefix):
            order_id = _object(obj.get(key)).get(id_key)
            return {order_id} if isinstance(order_id, str) and order_id else set()
    return set()


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
