"""Shopify webhooks: signature, and the customers and orders a delivery concerns.

`X-Shopify-Hmac-Sha256` is base64 HMAC-SHA256 of the raw body keyed with the app's client
secret; `X-Shopify-Webhook-Id` stays the same on every retry of one delivery
(shopify.dev/docs/apps/build/webhooks/verify-deliveries). `X-Shopify-Triggered-At` is not
signed and retries keep the original one for up to 4 hours, so it is no freshness proof
and is not checked (docs/customer-profile.md).
"""

from __future__ import annotations

from typing import Any

from gateway.webhooks.signing import hmac_sha256_base64, require_signature

SIGNATURE_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"

CUSTOMER_GID = "gid://shopify/Customer/"
ORDER_GID = "gid://shopify/Order/"
# Keys that hold a customer id at the top of a customers* topic's payload: the Customer
# resource (`id`), the consent topics (`customer_id`), customers/merge (kept and deleted;
# these two names are from memory of the webhook reference, not re-checked).
_CUSTOMER_KEYS = (
    "admin_graphql_api_id",
    "id",
    "customer_id",
    "admin_graphql_api_customer_kept_id",
    "admin_graphql_api_customer_deleted_id",
)


def verify_shopify(secret: str, body: bytes, signature: str | None) -> None:
    """Raise InvalidSignature unless `signature` signs `body`."""
    require_signature(hmac_sha256_base64(secret.encode(), body), signature)


def shopify_customer_gids(topic: str, payload: dict[str, Any]) -> set[str]:
    """Customer GIDs (the form a cached profile holds) a customers* topic concerns.

    Other topics (orders/create, products/update, ...) change nothing a cached profile holds:
    online orders are read live, never cached.
    """
    if not topic.startswith("customers"):
        return set()
    nested = payload.get("customer")
    sources = [payload, nested] if isinstance(nested, dict) else [payload]
    return {gid for source in sources for key in _CUSTOMER_KEYS if (gid := _gid(source.get(key)))}


def shopify_order_gids(topic: str, payload: dict[str, Any]) -> set[str]:
    """The order an orders/*, refunds/* or fulfillments/* topic concerns, as an order GID
    (the form `Order.id` takes): its followers re-read it (commerce/order_follow.py).
    An orders/* payload is the Order resource (`id`, `admin_graphql_api_id`); a refund or a
    fulfilment names its order by `order_id`."""
    if topic.startswith("orders/"):
        return {gid} if (gid := _gid(payload.get("id"), ORDER_GID)) else set()
    if topic.startswith(("refunds/", "fulfillments/")):
        return {gid} if (gid := _gid(payload.get("order_id"), ORDER_GID)) else set()
    return set()


def _gid(value: Any, prefix: str = CUSTOMER_GID) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return f"{prefix}{value}"
    if isinstance(value, str):
        if value.isdigit():
            return f"{prefix}{value}"
        if value.startswith(prefix) and value[len(prefix) :].isdigit():
            return value
    return None
