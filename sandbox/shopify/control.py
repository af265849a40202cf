"""Test-only control of the simulator: change a price as a merchant would in the Shopify admin.

    POST /_sandbox/shopify/variants/{sku}/price   {"price": "12.50"}

sets the price of the variant carrying that SKU (and its `updatedAt` to now), so every
later read (`productVariants`, `nodes`, a product's variants) shows it, and sends
`products/update` to the webhook subscriptions (sandbox/shopify/webhooks.py). Answers
`{"sku": ..., "price": ..., "deliveries": [<status>...]}`; 404 for an unknown SKU, 400
for a price that is not a non-negative decimal string.

    POST /_sandbox/shopify/orders/{id}/pickup   {"displayStatus": "READY_FOR_PICKUP"}

marks a local-pickup order (its numeric id) as store staff would: its fulfillment shows
READY_FOR_PICKUP, or PICKED_UP (the order is then fulfilled), and `orders/updated` goes to
the webhook subscriptions. 404 for an unknown order.

    POST /_sandbox/shopify/orders/{id}/pay

pays a pending store order at the till as Shopify POS does (a successful sale for what is
due; the order PAID). 404 for an unknown order.

    POST /_sandbox/shopify/inventory/{sku}/{location}   {"available": 3}

sets the `available` (and `on_hand`) units of the SKU at the location (its numeric id), as
a stock count at the till does, and sends `inventory_levels/update` with the REST
InventoryLevel resource. 404 for an unknown SKU or a location that does not stock it.

Under /_sandbox/: no vendor path, never counted as an API call.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.calls import CONTROL_PREFIX
from sandbox.shopify.store import ShopData
from sandbox.shopify.webhooks import control_routes as webhook_routes
from sandbox.shopify.webhooks import level_resource, notify, order_resource, product_resource


async def set_price(request: Request) -> Response:
    try:
        body: Any = json.loads(await request.body() or b"{}")
        price = Decimal(body["price"]) if isinstance(body.get("price"), str) else None
    except (ValueError, AttributeError, KeyError, InvalidOperation):
        price = None
    if price is None or not price.is_finite() or price < 0:
        return JSONResponse({"error": 'give {"price": "<decimal>"}, 0 or more'}, status_code=400)
    shop: ShopData = request.app.state.shop
    variant = shop.set_price(request.path_params["sku"], price)
    if variant is None:
        return JSONResponse({"error": "no variant has this SKU"}, status_code=404)
    deliveries = await notify(request, "products/update", product_resource(variant["product"]))
    return JSONResponse(
        {"sku": variant["sku"], "price": variant["price"], "deliveries": deliveries}
    )


PICKUP_DISPLAY_STATES = ("READY_FOR_PICKUP", "PICKED_UP")


async def mark_pickup(request: Request) -> Response:
    """POST /_sandbox/shopify/orders/{id}/pickup {"displayStatus": "READY_FOR_PICKUP"}"""
    try:
        body: Any = json.loads(await request.body() or b"{}")
        status = body.get("displayStatus") if isinstance(body, dict) else None
    except ValueError:
        status = None
    if status not in PICKUP_DISPLAY_STATES:
        return JSONResponse(
            {"error": f'give {{"displayStatus": one of {list(PICKUP_DISPLAY_STATES)}}}'},
            status_code=400,
        )
    shop: ShopData = request.app.state.shop
    order_id = request.path_params["id"]
    graph = shop.mark_pickup(int(order_id), status) if order_id.isdigit() else None
    if graph is None:
        return JSONResponse({"error": "no order has this id"}, status_code=404)
    deliveries = await notify(request, "orders/updated", order_resource(graph))
    return JSONResponse({"id": graph["id"], "displayStatus": status, "deliveries": deliveries})


async def pay_at_terminal(request: Request) -> Response:
    shop: ShopData = request.app.state.shop
    order_id = request.path_params["id"]
    graph = shop.pay_at_terminal(int(order_id)) if order_id.isdigit() else None
    if graph is None:
        return JSONResponse({"error": "no order has this id"}, status_code=404)
    return JSONResponse({"id": graph["id"], "displayFinancialStatus": "PAID"})


async def set_available(request: Request) -> Response:
    try:
        body: Any = json.loads(await request.body() or b"{}")
        available = body.get("available") if isinstance(body, dict) else None
    except ValueError:
        available = None
    if not isinstance(available, int) or isinstance(available, bool):
        return JSONResponse({"error": 'give {"available": <whole number>}'}, status_code=400)
    shop: ShopData = request.app.state.shop
    location = f"gid://shopify/Location/{request.path_params['location']}"
    level = shop.retail.set_available(request.path_params["sku"], location, available)
    if level is None:
        return JSONResponse({"error": "the location stocks no such SKU"}, status_code=404)
    deliveries = await notify(request, "inventory_levels/update", level_resource(level))
    return JSONResponse({"id": level["id"], "available": available, "deliveries": deliveries})


control_routes = [
    Route(CONTROL_PREFIX + "shopify/variants/{sku}/price", set_price, methods=["POST"]),
    Route(CONTROL_PREFIX + "shopify/orders/{id}/pickup", mark_pickup, methods=["POST"]),
    Route(CONTROL_PREFIX + "shopify/orders/{id}/pay", pay_at_terminal, methods=["POST"]),
    Route(CONTROL_PREFIX + "shopify/inventory/{sku}/{location}", set_available, methods=["POST"]),
    *webhook_routes,
]
