"""Shopify webhooks: the subscriptions a test makes, `products/update` sent as Shopify
sends it when a merchant edits a product, and `orders/updated` when staff prepare or hand
over a pickup order.

    POST   /_sandbox/shopify/webhooks   {"topic": "products/update", "address": "<url>"}
    DELETE /_sandbox/shopify/webhooks   (every subscription)

Each delivery is a POST of the REST resource as JSON with `X-Shopify-Topic`,
`X-Shopify-Webhook-Id` (the same on a retry), `X-Shopify-Shop-Domain`,
`X-Shopify-API-Version`, `X-Shopify-Triggered-At` and `X-Shopify-Hmac-Sha256`: base64
HMAC-SHA256 of the body keyed with the app's client secret
(shopify.dev/docs/apps/build/webhooks/verify-deliveries). Subscriptions are made here
rather than through `webhookSubscriptionCreate`, which the simulated Admin API lacks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.calls import CONTROL_PREFIX
from sandbox.webhook_sender import deliver, sender

# the app's client secret in the sandbox; the gateway's default webhook secret
SANDBOX_CLIENT_SECRET = "sandbox-shopify-client-secret"
SHOP_DOMAIN = "omnigate-sandbox.myshopify.com"
API_VERSION = "2025-01"
TOPICS = frozenset({"products/update", "inventory_levels/update", "orders/updated"})


def _legacy_id(gid: str) -> int:
    return int(gid.rsplit("/", 1)[1])


def product_resource(product: dict[str, Any]) -> dict[str, Any]:
    """The REST Product resource a products/* webhook carries, from the Admin graph."""
    return {
        "id": _legacy_id(product["id"]),
        "admin_graphql_api_id": product["id"],
        "title": product["title"],
        "handle": product["handle"],
        "body_html": product["descriptionHtml"],
        "product_type": product["productType"],
        "vendor": product["vendor"],
        "status": product["status"].lower(),
        "created_at": product["createdAt"],
        "updated_at": product["updatedAt"],
        "variants": [
            {
                "id": _legacy_id(variant["id"]),
                "admin_graphql_api_id": variant["id"],
                "product_id": _legacy_id(product["id"]),
                "sku": variant["sku"],
                "price": variant["price"],
                "title": variant["title"],
                "updated_at": variant["updatedAt"],
            }
            for variant in product["_variants"]
        ],
        "images": [
            {"id": _legacy_id(image["id"]), "src": image["url"], "alt": image["altText"]}
            for image in product["_images"]
        ],
    }


def order_resource(order: dict[str, Any]) -> dict[str, Any]:
    """The REST Order resource an orders/* webhook carries, from the Admin graph: the
    fields a receiver identifies it and its states by (Shopify's payload has many more)."""
    return {
        "id": _legacy_id(order["id"]),
        "admin_graphql_api_id": order["id"],
        "name": order["name"],
        "financial_status": str(order["displayFinancialStatus"]).lower(),
        "fulfillment_status": _fulfillment_status(order["displayFulfillmentStatus"]),
        "created_at": order["createdAt"],
        "updated_at": order["updatedAt"],
    }


def _fulfillment_status(display: str) -> str | None:
    # REST: null (nothing fulfilled), "partial" or "fulfilled"
    return {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}.get(display)


def level_resource(level: dict[str, Any]) -> dict[str, Any]:
    """The REST InventoryLevel resource an inventory_levels/update webhook carries."""
    return {
        "inventory_item_id": _legacy_id(level["item"]["id"]),
        "location_id": _legacy_id(level["location"]["id"]),
        "available": level["_quantities"]["available"],
        "updated_at": level["updatedAt"],
        "admin_graphql_api_id": level["id"],
    }


async def notify(request: Request, topic: str, resource: dict[str, Any]) -> list[int]:
    """One delivery per subscription to `topic`, in turn: the receivers' statuses."""
    subscriptions: list[tuple[str, str]] = request.app.state.shopify_webhooks
    body = json.dumps(resource).encode()
    digest = hmac.new(SANDBOX_CLIENT_SECRET.encode(), body, hashlib.sha256).digest()
    headers = {
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": base64.b64encode(digest).decode(),
        "x-shopify-shop-domain": SHOP_DOMAIN,
        "x-shopify-api-version": API_VERSION,
        "x-shopify-webhook-id": str(uuid.uuid4()),
        "x-shopify-triggered-at": resource.get("updated_at", ""),
    }
    return [
        await deliver(sender(request.app.state), address, body, headers)
        for wanted, address in list(subscriptions)
        if wanted == topic
    ]


async def subscribe(request: Request) -> Response:
    try:
        body: Any = json.loads(await request.body() or b"{}")
        topic, address = body["topic"], body["address"]
    except (ValueError, TypeError, KeyError):
        topic = address = None
    if topic not in TOPICS or not isinstance(address, str):
        return JSONResponse(
            {"error": f'give {{"topic": one of {sorted(TOPICS)}, "address": "<url>"}}'},
            status_code=400,
        )
    request.app.state.shopify_webhooks.append((topic, address))
    return JSONResponse({"topic": topic, "address": address})


async def unsubscribe_all(request: Request) -> Response:
    request.app.state.shopify_webhooks.clear()
    return Response(status_code=204)


control_routes = [
    Route(CONTROL_PREFIX + "shopify/webhooks", subscribe, methods=["POST"]),
    Route(CONTROL_PREFIX + "shopify/webhooks", unsubscribe_all, methods=["DELETE"]),
]
