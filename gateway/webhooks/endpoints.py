"""POST /webhooks/square, /webhooks/shopify and /webhooks/hubspot (when HubSpot is the CRM):
signed deliveries that invalidate cached customer profiles, settle store orders paid at the
terminal (Square's payment events), and announce stock and product changes to live
subscribers and order changes to the orders' followers.

Each request: the raw body is read once, capped (413); the signature is checked on exactly
those bytes before anything is parsed (401, nothing applied); a completed payment's order is
settled (its checkout paid, its points earned: docs/payments.md; idempotent, so it runs
before the delivery is recorded and a failure answers 503 for Square to send it again); the
delivery id is recorded so a redelivery is a no-op; the profiles holding the vendor's ids
are dropped; 200.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from commerce.live.changes import ChangeKind
from connectors.errors import UpstreamError
from connectors.ports import InventoryItemSkus
from connectors.records import System
from gateway.services import Services
from gateway.settings import WebhookSettings
from gateway.webhooks import hubspot, shopify, square
from gateway.webhooks.catalog import (
    AnnouncedChange,
    shopify_product_changes,
    shopify_stock_changes,
    square_stock_changes,
)
from gateway.webhooks.delivery import DeliveryNotApplied, apply_delivery
from gateway.webhooks.signing import InvalidSignature

log = logging.getLogger(__name__)

# Verifies one vendor's delivery and names it: (delivery id, the vendor ids it concerns,
# the catalog changes it announces).
Handled = tuple[str, set[str], list[AnnouncedChange]]
Handler = Callable[[WebhookSettings, bytes], Awaitable[Handled]]


def webhook_routes() -> list[BaseRoute]:
    return [
        Route("/webhooks/square", square_webhook, methods=["POST"]),
        Route("/webhooks/shopify", shopify_webhook, methods=["POST"]),
        Route("/webhooks/hubspot", hubspot_webhook, methods=["POST"]),
    ]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def square_webhook(request: Request) -> Response:
    async def handle(config: WebhookSettings, body: bytes) -> Handled:
        square.verify_square(
            config.square_signature_key.get_secret_value(),
            config.square_notification_url,
            body,
            request.headers.get(square.SIGNATURE_HEADER),
        )
        event = _json_object(body)
        delivery_id = square.square_delivery_id(event)
        if delivery_id is None:
            raise _Refused(400, "event_id missing")
        services: Services = request.app.state.services
        await _orders_changed(services, square.square_order_ids(event))
        paid_order = square.square_paid_order(event)
        if paid_order is not None:
            try:
                await services.checkout.settle_store_order(paid_order)
            except (UpstreamError, PyMongoError) as exc:
                raise DeliveryNotApplied(f"order {paid_order} not settled: {exc}") from exc
        return delivery_id, square.square_ids(event), square_stock_changes(event)

    return await _receive(request, "square", System.SQUARE, handle)


async def shopify_webhook(request: Request) -> Response:
    async def handle(config: WebhookSettings, body: bytes) -> Handled:
        shopify.verify_shopify(
            config.shopify_secret.get_secret_value(),
            body,
            request.headers.get(shopify.SIGNATURE_HEADER),
        )
        delivery_id = request.headers.get(shopify.WEBHOOK_ID_HEADER)
        if not delivery_id:
            raise _Refused(400, f"{shopify.WEBHOOK_ID_HEADER} missing")
        topic = request.headers.get(shopify.TOPIC_HEADER, "")
        payload = _json_object(body)
        orders = shopify.shopify_order_gids(topic, payload)
        await _orders_changed(request.app.state.services, orders)
        return (
            delivery_id,
            shopify.shopify_customer_gids(topic, payload),
            shopify_product_changes(topic, payload) + shopify_stock_changes(topic, payload),
        )

    return await _receive(request, "shopify", System.SHOPIFY, handle)


async def hubspot_webhook(request: Request) -> Response:
    services: Services = request.app.state.services
    if services.settings.adapters.crm != "hubspot":
        # no HubSpot account behind this gateway: its client secret is the sandbox's, so a
        # signed request would prove nothing (and cost CRM reads); the route is not there
        return _error(404, "not found")

    async def handle(config: WebhookSettings, body: bytes) -> Handled:
        hubspot.verify_hubspot_v3(
            config.hubspot_client_secret.get_secret_value(),
            method=request.method,
            uri=config.hubspot_webhook_url or str(request.url),
            body=body,
            signature=request.headers.get(hubspot.SIGNATURE_HEADER),
            timestamp=request.headers.get(hubspot.TIMESTAMP_HEADER),
        )
        events = _json_array(body)
        delivery_id = hubspot.hubspot_delivery_id(events)
        if delivery_id is None:
            raise _Refused(400, "eventId missing")
        return delivery_id, hubspot.hubspot_contact_ids(events), []  # a CRM: no stock news

    return await _receive(request, "hubspot", System.HUBSPOT, handle)


async def _receive(request: Request, vendor: str, system: System, handle: Handler) -> Response:
    services: Services = request.app.state.services
    config = services.settings.webhooks
    try:
        body = await _read_body(request, config.max_body_bytes)
        delivery_id, ids, announced = await handle(config, body)
        changes = await _catalog_changes(services, announced)
        outcome = await apply_delivery(
            deliveries=services.webhook_deliveries,
            cache=services.profile_cache,
            vendor=vendor,
            delivery_id=delivery_id,
            system=system,
            ids=ids,
            retention=timedelta(seconds=config.delivery_retention_seconds),
            then=_recorder(services, changes) if changes else None,
        )
    except InvalidSignature as exc:
        log.warning("%s webhook refused: %s", vendor, exc)
        return _error(401, "invalid signature")
    except _Refused as exc:
        log.warning("%s webhook refused: %s", vendor, exc.message)
        return _error(exc.status, exc.message)
    except DeliveryNotApplied as exc:
        log.warning("%s webhook not applied, the vendor will retry: %s", vendor, exc)
        return _error(503, "temporarily unavailable")
    status = "duplicate" if outcome.duplicate else "applied"
    return JSONResponse({"status": status, "invalidated": outcome.invalidated})


async def _orders_changed(services: Services, order_ids: set[str]) -> None:
    """Followers of these orders re-read them (docs/orders.md "Following an order"). Told
    before the delivery is marked applied: a failure to record is a 503, so the vendor
    retries; a redelivery tells them again, and they send nothing when nothing shows."""
    if not order_ids:
        return
    try:
        await services.order_changes.order_changed(order_ids)
    except PyMongoError as exc:
        raise DeliveryNotApplied(f"order change not recorded: {exc}") from exc


async def _catalog_changes(
    services: Services, announced: list[AnnouncedChange]
) -> list[AnnouncedChange]:
    """The announced changes in omnigate's terms: SKUs, and None for an online (warehouse)
    location. Square's variation ids are looked up through the inventory adapter; an
    upstream failure is a 503, so the vendor retries the delivery."""
    if not announced:
        return []
    try:
        locations = await services.stores.all()
        resolved = []
        for change in announced:
            skus: tuple[str, ...] = change.ids
            if change.kind is ChangeKind.STOCK:
                inventory = services.inventory
                if not isinstance(inventory, InventoryItemSkus):
                    continue  # another inventory adapter: its own stock is polled
                by_item = await inventory.skus_for_items(change.ids)
                skus = tuple(by_item[item] for item in change.ids if item in by_item)
            location = locations.get(change.location_id or "")
            online = location is not None and location.is_warehouse
            resolved.append(
                AnnouncedChange(change.kind, None if online else change.location_id, skus)
            )
    except UpstreamError as exc:
        raise _Refused(503, "temporarily unavailable") from exc
    return [change for change in resolved if change.ids]


def _recorder(services: Services, changes: list[AnnouncedChange]) -> Callable[[], Awaitable[None]]:
    async def record() -> None:
        for change in changes:
            if change.kind is ChangeKind.STOCK:
                await services.catalog_changes.stock_changed(change.location_id, change.ids)
            else:
                await services.catalog_changes.product_changed(change.ids)

    return record


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _Refused(413, "body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _Refused(413, "body too large")
    return bytes(body)


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _Refused(400, "body is not JSON") from exc


def _json_object(body: bytes) -> dict[str, Any]:
    document = _json(body)
    if not isinstance(document, dict):
        raise _Refused(400, "body is not a JSON object")
    return document


def _json_array(body: bytes) -> list[Any]:
    document = _json(body)
    if not isinstance(document, list):
        raise _Refused(400, "body is not a JSON array of events")
    return document


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
