"""Loyalty API writes: AccumulateLoyaltyPoints and AdjustLoyaltyPoints.

Square's contract (Loyalty API reference, "Manage loyalty points"):

- `POST /v2/loyalty/accounts/{account_id}/accumulate` with `accumulate_points` holding an
  `order_id` (Orders API orders: Square reads the order and computes the points from the
  program's accrual rules) or `points` (purchases made elsewhere, computed by the caller),
  a required `idempotency_key` (1..128) and the `location_id` of the purchase; it answers
  `{"events": [LoyaltyEvent]}` with one ACCUMULATE_POINTS event;
- `POST /v2/loyalty/accounts/{account_id}/adjust` with `adjust_points {points, reason}`
  (positive adds, negative subtracts) and `idempotency_key`; unless
  `allow_negative_balance` is true, a subtraction past the balance is a 400 BAD_REQUEST;
  it answers `{"event": LoyaltyEvent}`.

The same idempotency key answers the first call's result again and changes nothing. The
simulated program accrues one point per whole unit of the order's total (a SPEND rule);
an order accrues once.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from starlette.requests import Request

from sandbox.square.envelope import SquareApiError, invalid_request
from sandbox.square.orders import render
from sandbox.square.shapes import rfc3339
from sandbox.square.world import SquareWorld

IDEMPOTENCY_KEY_MAX = 128
POINTS_PER_UNIT = 1  # the simulated program's SPEND accrual rule


async def accumulate_loyalty_points(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    account_id = request.path_params["account_id"]
    key = _key(body)
    if (replayed := world.loyalty_calls.get(key)) is not None:
        return replayed
    account = _account(world, account_id)
    location_id = body.get("location_id")
    if not isinstance(location_id, str) or not location_id:
        raise invalid_request("MISSING_REQUIRED_PARAMETER", "Missing `location_id`.", "location_id")
    accumulate = body.get("accumulate_points")
    if not isinstance(accumulate, dict):
        raise invalid_request(
            "MISSING_REQUIRED_PARAMETER", "Missing `accumulate_points`.", "accumulate_points"
        )
    order_id, points = accumulate.get("order_id"), accumulate.get("points")
    if (order_id is None) == (points is None):
        raise invalid_request(
            "INVALID_VALUE",
            "Provide exactly one of `accumulate_points.order_id` and `accumulate_points.points`.",
            "accumulate_points",
        )
    detail: dict[str, Any] = {"loyalty_program_id": account.program_id}
    if order_id is not None:
        order = world.orders_by_id.get(str(order_id))
        if order is None:
            raise SquareApiError(
                404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Order not found.", "order_id"
            )
        if not world.is_paid(order.id):
            # Square's loyalty guide: create the order, take the payment, then accumulate
            raise invalid_request(
                "BAD_REQUEST",
                "Points can be accumulated only for a paid order.",
                "accumulate_points.order_id",
            )
        if order.id in world.accumulated_orders:
            raise invalid_request(
                "BAD_REQUEST",
                "Points have already been accumulated for this order.",
                "accumulate_points.order_id",
            )
        points = _order_points(world, order.id)
        world.accumulated_orders.add(order.id)
        detail["order_id"] = order.id
    elif not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise invalid_request(
            "INVALID_VALUE", "`points` must be a positive integer.", "accumulate_points.points"
        )
    detail["points"] = points
    world.change_points(account_id, points, lifetime=True)
    event = _event(world, key, account_id, "ACCUMULATE_POINTS", "accumulate_points", detail)
    event["location_id"] = location_id
    answer = {"events": [event]}
    world.loyalty_calls[key] = answer
    return answer


async def adjust_loyalty_points(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    account_id = request.path_params["account_id"]
    key = _key(body)
    if (replayed := world.loyalty_calls.get(key)) is not None:
        return replayed
    account = _account(world, account_id)
    adjust = body.get("adjust_points")
    if not isinstance(adjust, dict):
        raise invalid_request(
            "MISSING_REQUIRED_PARAMETER", "Missing `adjust_points`.", "adjust_points"
        )
    points = adjust.get("points")
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        raise invalid_request(
            "INVALID_VALUE", "`points` must be a non-zero integer.", "adjust_points.points"
        )
    balance = world.loyalty_balance(account_id)[0]
    if points < 0 and balance + points < 0 and body.get("allow_negative_balance") is not True:
        raise invalid_request(
            "BAD_REQUEST",
            "The adjustment would result in a negative balance.",
            "adjust_points.points",
        )
    world.change_points(account_id, points, lifetime=points > 0)
    detail: dict[str, Any] = {"loyalty_program_id": account.program_id, "points": points}
    if isinstance(adjust.get("reason"), str):
        detail["reason"] = adjust["reason"]
    answer = {"event": _event(world, key, account_id, "ADJUST_POINTS", "adjust_points", detail)}
    world.loyalty_calls[key] = answer
    return answer


def _key(body: dict[str, Any]) -> str:
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not key:
        raise invalid_request(
            "MISSING_REQUIRED_PARAMETER", "Missing `idempotency_key`.", "idempotency_key"
        )
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise invalid_request(
            "VALUE_TOO_LONG",
            f"`idempotency_key` must be at most {IDEMPOTENCY_KEY_MAX} characters.",
            "idempotency_key",
        )
    return key


def _account(world: SquareWorld, account_id: str) -> Any:
    account = world.loyalty_by_id.get(account_id)
    if account is None:
        raise SquareApiError(
            404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Loyalty account not found.", "account_id"
        )
    return account


def _order_points(world: SquareWorld, order_id: str) -> int:
    total = render(world.orders_by_id[order_id]).get("total_money") or {"amount": 0}
    return (int(total["amount"]) // 100) * POINTS_PER_UNIT


def _event(
    world: SquareWorld,
    key: str,
    account_id: str,
    event_type: str,
    detail_name: str,
    detail: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(hashlib.sha256(f"event:{key}".encode()).hexdigest()[:32])),
        "type": event_type,
        "created_at": rfc3339(world.wall_clock()),
        detail_name: detail,
        "loyalty_account_id": account_id,
        "source": "LOYALTY_API",
    }
