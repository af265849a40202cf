"""Orders API: SearchOrders and BatchRetrieveOrders over the stores' POS receipts and the
orders created through CreateOrder (create_order.py).

Caps and rules from Square's SearchOrders reference: 1 to 10 `location_ids`, at most 10
`customer_filter.customer_ids`, `limit` >= 1 (default 500, max 1000), date-time ranges inclusive
at both ends, and a date-time filter requires sorting on the same field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request

from sandbox.square import shapes
from sandbox.square.body import field, id_list, one_of, strict_limit, timestamp
from sandbox.square.envelope import invalid_request
from sandbox.square.paging import paginate
from sandbox.square.world import PlacedOrder, SquareWorld, StoredOrder

SEARCH_MAX_LOCATIONS = 10
SEARCH_MAX_CUSTOMERS = 10
SEARCH_DEFAULT_LIMIT = 500
SEARCH_MAX_LIMIT = 1000
# BatchRetrieveOrdersRequest.order_ids: "A maximum of 100 orders can be retrieved per request."
BATCH_RETRIEVE_MAX_IDS = 100
_TIME_FIELDS = ("created_at", "updated_at", "closed_at")


async def search_orders(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    locations = set(
        id_list(body, "location_ids", max_length=SEARCH_MAX_LOCATIONS, required=True) or []
    )
    customers = id_list(
        body, "query", "filter", "customer_filter", "customer_ids", max_length=SEARCH_MAX_CUSTOMERS
    )
    states = id_list(body, "query", "filter", "state_filter", "states")
    limit = strict_limit(body, default=SEARCH_DEFAULT_LIMIT, minimum=1, maximum=SEARCH_MAX_LIMIT)
    sort_field = one_of(
        body,
        "query",
        "sort",
        "sort_field",
        allowed=("CREATED_AT", "UPDATED_AT", "CLOSED_AT"),
        default="CREATED_AT",
    )
    descending = (
        one_of(body, "query", "sort", "sort_order", allowed=("ASC", "DESC"), default="DESC")
        == "DESC"
    )
    start, end = _time_range(body, sort_field)

    if customers is not None:
        candidates = [o for c in dict.fromkeys(customers) for o in world.orders_by_customer[c]]
    else:
        candidates = list(world.orders)
    found = [
        o
        for o in candidates
        if o.location_id in locations
        and (states is None or o.state in states)
        and (start is None or o.created_at >= start)
        and (end is None or o.created_at <= end)
    ]
    # Every timestamp of a sandbox order is its created_at (a created order is never updated
    # and not closed), so one sort key serves all fields.
    found.sort(key=lambda o: (o.created_at, o.id), reverse=descending)
    page = paginate(found, body, limit)
    payload: dict[str, Any]
    if body.get("return_entries"):
        payload = {"order_entries": [_entry(o) for o in page.items]}
    else:
        payload = {"orders": [render(o) for o in page.items]}
    if page.cursor:
        payload["cursor"] = page.cursor
    return payload


async def batch_retrieve_orders(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    ids = id_list(body, "order_ids", max_length=BATCH_RETRIEVE_MAX_IDS, required=True) or []
    location_id = body.get("location_id")
    # "If a given order ID does not exist, the ID is ignored instead of generating an error."
    orders: list[StoredOrder] = [
        world.orders_by_id[order_id]
        for order_id in dict.fromkeys(ids)
        if order_id in world.orders_by_id
        and (location_id is None or world.orders_by_id[order_id].location_id == location_id)
    ]
    return {"orders": [render(o) for o in orders]}


def render(order: StoredOrder) -> dict[str, Any]:
    return order.payload if isinstance(order, PlacedOrder) else shapes.order(order)


def _entry(order: StoredOrder) -> dict[str, Any]:
    if isinstance(order, PlacedOrder):
        return {
            "order_id": order.id,
            "version": order.payload["version"],
            "location_id": order.location_id,
        }
    return shapes.order_entry(order)


def _time_range(body: dict[str, Any], sort_field: str) -> tuple[datetime | None, datetime | None]:
    filters = field(body, "query", "filter", "date_time_filter") or {}
    chosen = [name for name in _TIME_FIELDS if name in filters]
    if not chosen:
        return None, None
    where = "query.filter.date_time_filter"
    if len(chosen) > 1:
        raise invalid_request("INVALID_VALUE", "Filter on one time range at a time.", where)
    (name,) = chosen
    if sort_field != name.upper():
        raise invalid_request(
            "INVALID_VALUE",
            f"Filtering on `{name}` requires `query.sort.sort_field` {name.upper()}.",
            "query.sort.sort_field",
        )
    return (
        timestamp(body, "query", "filter", "date_time_filter", name, "start_at"),
        timestamp(body, "query", "filter", "date_time_filter", name, "end_at"),
    )
