"""Square webhook subscriptions, and `inventory.count.updated` sent when a count changes.

    POST   /v2/webhooks/subscriptions                  CreateWebhookSubscription
    DELETE /v2/webhooks/subscriptions/{subscription_id} DeleteWebhookSubscription

A subscription names its `notification_url` and `event_types`; Square answers it with the
`signature_key` it signs every notification with: `x-square-hmacsha256-signature` is base64
HMAC-SHA256(signature key, notification URL + body)
(developer.squareup.com/docs/webhooks/step3validate).

Test control, under /_sandbox/ (never counted as an API call):

    POST /_sandbox/square/inventory
         {"changes": [{"sku", "location_id", "quantity"}], "concurrency": 1}

sets each IN_STOCK count as a seller's stock adjustment would, and sends one
`inventory.count.updated` per change to every subscription that wants it, `concurrency`
at a time (1: one after another, in order; a vendor under load sends many at once);
answers `{"deliveries": [<status>...]}` (0: the receiver was unreachable).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.calls import CONTROL_PREFIX
from sandbox.square import shapes
from sandbox.square.envelope import SquareApiError, invalid_request
from sandbox.square.world import SquareWorld
from sandbox.webhook_sender import deliver, sender

SIGNATURE_HEADER = "x-square-hmacsha256-signature"
INVENTORY_COUNT_UPDATED = "inventory.count.updated"


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    notification_url: str
    event_types: tuple[str, ...]
    signature_key: str
    payload: dict[str, Any]


def _subscriptions(request: Request) -> dict[str, Subscription]:
    state = request.app.state
    if not hasattr(state, "square_webhooks"):
        state.square_webhooks = {}
    found: dict[str, Subscription] = state.square_webhooks
    return found


async def create_webhook_subscription(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    wanted = body.get("subscription")
    if not isinstance(wanted, dict):
        raise invalid_request("MISSING_REQUIRED_PARAMETER", "`subscription` is required.")
    url = wanted.get("notification_url")
    types = wanted.get("event_types")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise invalid_request(
            "INVALID_VALUE", "`notification_url` must be an http(s) URL.", "notification_url"
        )
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        raise invalid_request(
            "INVALID_VALUE", "`event_types` must name at least one event.", "event_types"
        )
    now = shapes.rfc3339(request.app.state.square.wall_clock())
    subscription_id = f"wbhk_{uuid.uuid4().hex[:24]}"
    key = secrets.token_urlsafe(16)
    payload = {
        "id": subscription_id,
        "name": wanted.get("name") or "",
        "enabled": True,
        "event_types": types,
        "notification_url": url,
        "api_version": wanted.get("api_version") or "2024-01-18",
        "signature_key": key,
        "created_at": now,
        "updated_at": now,
    }
    _subscriptions(request)[subscription_id] = Subscription(
        subscription_id, url, tuple(types), key, payload
    )
    return {"subscription": payload}


def subscribe_directly(
    state: Any, notification_url: str, signature_key: str, event_types: tuple[str, ...]
) -> None:
    """A subscription made by the one running the simulator (`omnigate dev`), signed with
    the key the gateway is configured with, as a seller copies Square's key into it."""
    subscription_id = f"wbhk_{uuid.uuid4().hex[:24]}"
    payload = {"id": subscription_id, "event_types": list(event_types)}
    state.square_webhooks[subscription_id] = Subscription(
        subscription_id, notification_url, event_types, signature_key, payload
    )


async def delete_webhook_subscription(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    if _subscriptions(request).pop(request.path_params["subscription_id"], None) is None:
        raise SquareApiError(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "No such subscription.")
    return {}


def sign(subscription: Subscription, body: bytes) -> str:
    message = subscription.notification_url.encode() + body
    digest = hmac.new(subscription.signature_key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


async def set_inventory(request: Request) -> Response:
    try:
        body: Any = json.loads(await request.body() or b"{}")
        changes = body["changes"]
        wanted = [(c["sku"], c["location_id"], int(c["quantity"])) for c in changes]
        concurrency = max(1, int(body.get("concurrency", 1)))
    except (ValueError, TypeError, KeyError, AttributeError):
        return JSONResponse(
            {"error": 'give {"changes": [{"sku", "location_id", "quantity"}]}'}, status_code=400
        )
    world: SquareWorld = request.app.state.square
    events: list[bytes] = []
    for sku, location_id, quantity in wanted:
        product = world.products_by_sku.get(str(sku).lower())
        if product is None:
            return JSONResponse({"error": f"no variation has SKU {sku}"}, status_code=404)
        moment = world.wall_clock()
        variation_id = product.square_variation_id
        counts = [c for c in world.counts_by_variation[variation_id] if c[0] != location_id]
        world.counts_by_variation[variation_id] = [*counts, (location_id, quantity, moment)]
        count = shapes.inventory_count(variation_id, location_id, quantity, moment)
        events.append(_event(request, INVENTORY_COUNT_UPDATED, "inventory_counts", [count]))
    gate = asyncio.Semaphore(concurrency)

    async def send(body: bytes) -> list[int]:
        async with gate:
            return await _notify(request, INVENTORY_COUNT_UPDATED, body)

    sent = await asyncio.gather(*(send(body) for body in events))
    return JSONResponse({"deliveries": [status for statuses in sent for status in statuses]})


def _event(request: Request, event_type: str, data_type: str, objects: Any) -> bytes:
    event_id = str(uuid.uuid4())
    event = {
        "merchant_id": shapes.MERCHANT_ID,
        "type": event_type,
        "event_id": event_id,
        "created_at": shapes.rfc3339(request.app.state.square.wall_clock()),
        "data": {"type": data_type, "id": event_id, "object": {data_type: objects}},
    }
    return json.dumps(event).encode()


async def _notify(request: Request, event_type: str, body: bytes) -> list[int]:
    statuses = []
    for subscription in list(_subscriptions(request).values()):
        if event_type in subscription.event_types:
            headers = {SIGNATURE_HEADER: sign(subscription, body)}
            statuses.append(
                await deliver(
                    sender(request.app.state), subscription.notification_url, body, headers
                )
            )
    return statuses


control_routes = [
    Route(CONTROL_PREFIX + "square/inventory", set_inventory, methods=["POST"]),
]
