"""Orders API: CreateOrder (`POST /v2/orders`), with Square's idempotency.

Square's contract, from the CreateOrder reference and the Idempotency guide
(https://developer.squareup.com/docs/build-basics/common-api-patterns/idempotency):

- `order` is required and, when set, `idempotency_key` is the only other top-level field;
  `order.location_id` is required; the key is at most 192 characters;
- the same key with the same request body answers the order the first request created
  (200) and creates nothing; the same key with another body is refused with 400
  INVALID_REQUEST_ERROR / IDEMPOTENCY_KEY_REUSED; a request refused for being invalid does
  not use its key up;
- a line item names a catalog ITEM_VARIATION (`catalog_object_id`) or is ad hoc (`name` and
  `base_price_money`); "if both `catalog_object_id` and `base_price_money` are set,
  `base_price_money` will override the CatalogItemVariation's price";
- quantities are decimal strings and money is `{amount: <smallest unit>, currency}`.

Order-scoped FIXED_AMOUNT discounts and PICKUP fulfillments are computed as Square does
(each discount spread over the lines in proportion to their sales); taxes, modifiers,
service charges and other discount or fulfillment types are beyond this simulator and
refused as NOT_IMPLEMENTED rather than silently ignored.
"""

from __future__ import annotations

import hashlib
import json
import string
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request

from sandbox.dataset import CURRENCY
from sandbox.square import shapes
from sandbox.square.envelope import SquareApiError, invalid_request
from sandbox.square.orders import render
from sandbox.square.world import IdempotentCall, PlacedOrder, SquareWorld

IDEMPOTENCY_KEY_MAX = 192
REFERENCE_ID_MAX = 40
PICKUP_NOTE_MAX = 500
_STATES = ("OPEN", "DRAFT")
_UNSUPPORTED_ORDER_FIELDS = ("taxes", "service_charges", "rewards", "returns", "tenders")
_UNSUPPORTED_LINE_FIELDS = ("modifiers", "applied_taxes", "applied_discounts", "quantity_unit")
_BASE62 = string.digits + string.ascii_letters


async def create_order(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    world: SquareWorld = request.app.state.square
    key = _idempotency_key(body)
    for name in body:
        if name not in ("order", "idempotency_key"):
            raise invalid_request(
                "UNKNOWN_BODY_PARAMETER", f"`{name}` is not a field of CreateOrderRequest.", name
            )
    order = body.get("order")
    if order is None:
        raise invalid_request("MISSING_REQUIRED_PARAMETER", "Missing `order`.", "order")
    if not isinstance(order, dict):
        raise invalid_request("EXPECTED_OBJECT", "`order` must be an object.", "order")
    fingerprint = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    if key is not None and key in world.create_order_keys:
        first = world.create_order_keys[key]
        if first.fingerprint != fingerprint:
            raise invalid_request(
                "IDEMPOTENCY_KEY_REUSED",
                "The provided idempotency key has already been used for a different request.",
                "idempotency_key",
            )
        return {"order": render(world.orders_by_id[first.order_id])}
    placed = _OrderBuilder(world, order).build()
    world.add_order(placed)
    if key is not None:
        world.create_order_keys[key] = IdempotentCall(fingerprint, placed.id)
    return {"order": placed.payload}


def _idempotency_key(body: dict[str, Any]) -> str | None:
    key = body.get("idempotency_key")
    if key is None:
        return None
    if not isinstance(key, str):
        raise invalid_request(
            "EXPECTED_STRING", "`idempotency_key` must be a string.", "idempotency_key"
        )
    if not key:
        raise invalid_request(
            "VALUE_EMPTY", "`idempotency_key` must not be empty.", "idempotency_key"
        )
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise invalid_request(
            "VALUE_TOO_LONG",
            f"`idempotency_key` must be at most {IDEMPOTENCY_KEY_MAX} characters.",
            "idempotency_key",
        )
    return key


def _money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": CURRENCY}


class _OrderBuilder:
    """Validates one `order` object and computes the Order Square answers with."""

    def __init__(self, world: SquareWorld, order: dict[str, Any]) -> None:
        self.world = world
        self.order = order
        self.now: datetime = world.wall_clock()
        self.order_id = _order_id(world)

    def build(self) -> PlacedOrder:
        order = self.order
        for name in _UNSUPPORTED_ORDER_FIELDS:
            if order.get(name):
                raise _not_implemented(f"order.{name}")
        location_id = self._location_id()
        customer_id = self._optional_string("customer_id")
        reference_id = self._optional_string("reference_id")
        if reference_id is not None and len(reference_id) > REFERENCE_ID_MAX:
            raise invalid_request(
                "VALUE_TOO_LONG",
                f"`reference_id` must be at most {REFERENCE_ID_MAX} characters.",
                "order.reference_id",
            )
        state = order.get("state", "OPEN")
        if state not in _STATES:
            raise invalid_request(
                "INVALID_VALUE", f"An order can be created {_STATES}, not `{state}`.", "order.state"
            )
        lines = [self._line(index, item) for index, item in enumerate(self._list("line_items"))]
        discounts = [self._discount(i, d) for i, d in enumerate(self._list("discounts"))]
        self._apply(discounts, lines)
        fulfillments = [self._fulfillment(i, f) for i, f in enumerate(self._list("fulfillments"))]

        gross = sum(line["gross_sales_money"]["amount"] for line in lines)
        discounted = sum(line["total_discount_money"]["amount"] for line in lines)
        total = gross - discounted
        created = shapes.rfc3339(self.now)
        payload: dict[str, Any] = {
            "id": self.order_id,
            "location_id": location_id,
            "line_items": lines,
            "net_amounts": {
                "total_money": _money(total),
                "tax_money": _money(0),
                "discount_money": _money(discounted),
                "tip_money": _money(0),
                "service_charge_money": _money(0),
            },
            "created_at": created,
            "updated_at": created,
            "state": state,
            "version": 1,
            "total_money": _money(total),
            "total_tax_money": _money(0),
            "total_discount_money": _money(discounted),
            "total_tip_money": _money(0),
            "total_service_charge_money": _money(0),
            "net_amount_due_money": _money(total),
        }
        if customer_id is not None:
            payload["customer_id"] = customer_id
        if reference_id is not None:
            payload["reference_id"] = reference_id
        if discounts:
            payload["discounts"] = discounts
        if fulfillments:
            payload["fulfillments"] = fulfillments
        if isinstance(order.get("metadata"), dict):
            payload["metadata"] = order["metadata"]
        if isinstance(order.get("source"), dict):
            payload["source"] = order["source"]
        return PlacedOrder(self.order_id, location_id, customer_id, self.now, state, payload)

    # --- fields -------------------------------------------------------------------------

    def _location_id(self) -> str:
        location_id = self.order.get("location_id")
        if location_id is None:
            raise invalid_request(
                "MISSING_REQUIRED_PARAMETER", "Missing `location_id`.", "order.location_id"
            )
        if location_id not in {loc.id for loc in self.world.dataset.locations}:
            raise invalid_request(
                "INVALID_VALUE", f"Location `{location_id}` not found.", "order.location_id"
            )
        return str(location_id)

    def _optional_string(self, name: str) -> str | None:
        value = self.order.get(name)
        if value is not None and not isinstance(value, str):
            raise invalid_request("EXPECTED_STRING", f"`{name}` must be a string.", f"order.{name}")
        return value

    def _list(self, name: str) -> list[dict[str, Any]]:
        value = self.order.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise invalid_request(
                "EXPECTED_ARRAY", f"`{name}` must be an array of objects.", f"order.{name}"
            )
        return value

    def _line(self, index: int, item: dict[str, Any]) -> dict[str, Any]:
        where = f"order.line_items[{index}]"
        for name in _UNSUPPORTED_LINE_FIELDS:
            if item.get(name):
                raise _not_implemented(f"{where}.{name}")
        quantity = _quantity(item.get("quantity"), f"{where}.quantity")
        line: dict[str, Any] = {
            "uid": self._uid("line", index),
            "quantity": item["quantity"],
            "item_type": "ITEM",
        }
        variation_id = item.get("catalog_object_id")
        price = item.get("base_price_money")
        if variation_id is not None:
            product = self.world.products_by_variation.get(str(variation_id))
            if product is None:
                raise invalid_request(
                    "INVALID_VALUE",
                    f"Item variation with catalog object ID `{variation_id}` not found.",
                    f"{where}.catalog_object_id",
                )
            variation = shapes.variation(product)
            line["catalog_object_id"] = product.square_variation_id
            line["catalog_version"] = variation["version"]
            line["name"] = product.title
            line["variation_name"] = variation["item_variation_data"]["name"]
            # A price sent with a catalog line overrides the variation's own price.
            unit = (
                _amount(price, f"{where}.base_price_money")
                if price is not None
                else variation["item_variation_data"]["price_money"]["amount"]
            )
        else:
            if price is None:
                raise invalid_request(
                    "MISSING_REQUIRED_PARAMETER",
                    "An ad hoc line item needs `base_price_money`.",
                    f"{where}.base_price_money",
                )
            unit = _amount(price, f"{where}.base_price_money")
            line["name"] = str(item.get("name") or "")
            line["variation_name"] = str(item.get("variation_name") or "Regular")
        if isinstance(item.get("metadata"), dict):
            line["metadata"] = item["metadata"]
        if item.get("note"):
            line["note"] = str(item["note"])
        gross = _round(unit * quantity)
        line.update(
            base_price_money=_money(unit),
            variation_total_price_money=_money(gross),
            gross_sales_money=_money(gross),
            total_tax_money=_money(0),
            total_discount_money=_money(0),
            total_money=_money(gross),
        )
        return line

    def _discount(self, index: int, discount: dict[str, Any]) -> dict[str, Any]:
        where = f"order.discounts[{index}]"
        kind = discount.get("type", "FIXED_AMOUNT")
        scope = discount.get("scope", "ORDER")
        if kind != "FIXED_AMOUNT" or scope != "ORDER" or discount.get("catalog_object_id"):
            raise _not_implemented(f"{where} of type {kind} and scope {scope}")
        if "amount_money" not in discount:
            raise invalid_request(
                "MISSING_REQUIRED_PARAMETER",
                "A FIXED_AMOUNT discount needs `amount_money`.",
                f"{where}.amount_money",
            )
        return {
            "uid": str(discount.get("uid") or self._uid("discount", index)),
            "name": str(discount.get("name") or ""),
            "type": "FIXED_AMOUNT",
            "amount_money": _money(_amount(discount["amount_money"], f"{where}.amount_money")),
            "scope": "ORDER",
        }

    def _apply(self, discounts: list[dict[str, Any]], lines: list[dict[str, Any]]) -> None:
        """Spread each ORDER discount over the lines in proportion to what is left of them."""
        for discount in discounts:
            remaining = [line["total_money"]["amount"] for line in lines]
            applied = min(discount["amount_money"]["amount"], sum(remaining))
            discount["applied_money"] = _money(applied)
            base = sum(remaining)
            shares = [applied * left // base if base else 0 for left in remaining]
            leftover = applied - sum(shares)
            for index, left in enumerate(remaining):  # cents lost to rounding, in line order
                extra = min(leftover, left - shares[index])
                shares[index] += extra
                leftover -= extra
            for index, (line, share) in enumerate(zip(lines, shares, strict=True)):
                if share == 0:
                    continue
                line.setdefault("applied_discounts", []).append(
                    {
                        "uid": self._uid(f"applied-{discount['uid']}", index),
                        "discount_uid": discount["uid"],
                        "applied_money": _money(share),
                    }
                )
                line["total_discount_money"] = _money(
                    line["total_discount_money"]["amount"] + share
                )
                line["total_money"] = _money(line["total_money"]["amount"] - share)

    def _fulfillment(self, index: int, fulfillment: dict[str, Any]) -> dict[str, Any]:
        where = f"order.fulfillments[{index}]"
        kind = fulfillment.get("type")
        if kind != "PICKUP":
            raise _not_implemented(f"{where} of type {kind}")
        details = fulfillment.get("pickup_details")
        if not isinstance(details, dict):
            raise invalid_request(
                "MISSING_REQUIRED_PARAMETER",
                "A PICKUP fulfillment needs `pickup_details`.",
                f"{where}.pickup_details",
            )
        schedule = details.get("schedule_type", "SCHEDULED")
        if schedule not in ("SCHEDULED", "ASAP"):
            raise invalid_request(
                "INVALID_ENUM_VALUE",
                "`schedule_type` must be SCHEDULED or ASAP.",
                f"{where}.pickup_details.schedule_type",
            )
        if schedule == "SCHEDULED" and not details.get("pickup_at"):
            raise invalid_request(
                "MISSING_REQUIRED_PARAMETER",
                "A SCHEDULED pickup needs `pickup_at`.",
                f"{where}.pickup_details.pickup_at",
            )
        note = details.get("note")
        if isinstance(note, str) and len(note) > PICKUP_NOTE_MAX:
            raise invalid_request(
                "VALUE_TOO_LONG",
                f"`note` must be at most {PICKUP_NOTE_MAX} characters.",
                f"{where}.pickup_details.note",
            )
        placed = shapes.rfc3339(self.now)
        # ASAP: "automatically set to the current time plus the expected duration to prepare".
        shaped = {"placed_at": placed, "pickup_at": placed, **details, "schedule_type": schedule}
        return {
            "uid": str(fulfillment.get("uid") or self._uid("fulfillment", index)),
            "type": "PICKUP",
            "state": fulfillment.get("state", "PROPOSED"),
            "pickup_details": shaped,
        }

    def _uid(self, kind: str, index: int) -> str:
        return base62(f"{self.order_id}:{kind}:{index}", 22)


def _order_id(world: SquareWorld) -> str:
    return base62(f"order:{len(world.orders)}", 27)


def base62(seed: str, length: int) -> str:
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def _quantity(value: Any, where: str) -> Decimal:
    if value is None:
        raise invalid_request("MISSING_REQUIRED_PARAMETER", "Missing `quantity`.", where)
    if not isinstance(value, str):
        raise invalid_request("EXPECTED_STRING", "`quantity` must be a decimal string.", where)
    try:
        quantity = Decimal(value)
    except InvalidOperation as exc:
        raise invalid_request("INVALID_VALUE", "`quantity` is not a number.", where) from exc
    if not quantity.is_finite() or quantity <= 0 or quantity != quantity.to_integral_value():
        # Fractional quantities need a quantity_unit, which this simulator does not take.
        raise invalid_request("INVALID_VALUE", "`quantity` must be a positive integer.", where)
    return quantity


def _amount(money: Any, where: str) -> int:
    if not isinstance(money, dict):
        raise invalid_request("EXPECTED_OBJECT", "Money must be an object.", where)
    amount = money.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise invalid_request("EXPECTED_INTEGER", "`amount` must be an integer.", f"{where}.amount")
    if amount < 0:
        raise invalid_request("VALUE_TOO_LOW", "`amount` must not be negative.", f"{where}.amount")
    if money.get("currency") != CURRENCY:
        raise invalid_request(
            "INVALID_VALUE",
            f"The location's currency is {CURRENCY}, not `{money.get('currency')}`.",
            f"{where}.currency",
        )
    return amount


def _round(amount: Decimal) -> int:
    return int(amount.to_integral_value())


def _not_implemented(what: str) -> SquareApiError:
    return SquareApiError(
        400,
        "INVALID_REQUEST_ERROR",
        "NOT_IMPLEMENTED",
        f"{what} is not supported by this simulator.",
    )
