"""Square's JSON shapes translated into omnigate's vendor-neutral records."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.records import (
    Address,
    Channel,
    CustomerIdentity,
    ExternalRef,
    FulfillmentState,
    LocationRecord,
    LoyaltyAccountRecord,
    LoyaltyMovement,
    Money,
    OpeningPeriod,
    OrderLine,
    OrderPaymentState,
    OrderRecord,
    PickupState,
    System,
)

# Square's Money.amount is in the currency's smallest unit; most have two decimals.
_MINOR_UNIT_EXPONENT = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3}


def ref(square_id: str) -> ExternalRef:
    return ExternalRef(System.SQUARE, square_id)


def money(value: Any) -> Money:
    value = value if isinstance(value, dict) else {}
    currency = str(value.get("currency") or "USD")
    exponent = _MINOR_UNIT_EXPONENT.get(currency, 2)
    return Money(Decimal(int(value.get("amount") or 0)).scaleb(-exponent), currency)


def square_money(value: Money) -> dict[str, Any]:
    """A Money as Square's `{amount: <smallest unit>, currency}`; sub-unit amounts are refused."""
    exponent = _MINOR_UNIT_EXPONENT.get(value.currency, 2)
    minor = value.amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"{value.amount} {value.currency} is finer than the currency's unit")
    return {"amount": int(minor), "currency": value.currency}


def timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def location(loc: dict[str, Any], online_location_id: str) -> LocationRecord:
    address = loc.get("address") or {}
    coordinates = loc.get("coordinates") or {}
    periods = (loc.get("business_hours") or {}).get("periods") or []
    return LocationRecord(
        id=loc["id"],
        name=loc.get("name") or "",
        address=Address(
            line1=address.get("address_line_1") or "",
            line2=address.get("address_line_2"),
            city=address.get("locality") or "",
            region=address.get("administrative_district_level_1"),
            postal_code=address.get("postal_code") or "",
            country=address.get("country") or loc.get("country") or "",
        ),
        timezone=loc.get("timezone") or "UTC",
        opening_hours=tuple(
            # Square's local times are HH:MM:SS; the records keep HH:MM.
            OpeningPeriod(p["day_of_week"], p["start_local_time"][:5], p["end_local_time"][:5])
            for p in periods
            if {"day_of_week", "start_local_time", "end_local_time"} <= p.keys()
        ),
        is_warehouse=loc["id"] == online_location_id,
        latitude=coordinates.get("latitude"),
        longitude=coordinates.get("longitude"),
        phone=loc.get("phone_number"),
        external_refs=(ref(loc["id"]),),
    )


def customer(data: dict[str, Any]) -> CustomerIdentity:
    preferences = data.get("preferences") or {}
    # Square records only an opt-out; not having unsubscribed is not consent, so that stays None.
    opted_out = preferences.get("email_unsubscribed") is True
    return CustomerIdentity(
        ref=ref(data["id"]),
        given_name=data.get("given_name"),
        family_name=data.get("family_name"),
        email=data.get("email_address"),
        phone=data.get("phone_number"),
        created_at=timestamp(data.get("created_at")),
        updated_at=timestamp(data.get("updated_at")),
        email_opt_in=False if opted_out else None,
    )


def loyalty_account(data: dict[str, Any]) -> LoyaltyAccountRecord:
    return LoyaltyAccountRecord(
        ref=ref(data["id"]),
        customer_ref=ref(data["customer_id"]),
        balance=int(data.get("balance") or 0),
        lifetime_points=int(data.get("lifetime_points") or 0),
    )


def order(data: dict[str, Any], sku_by_variation: dict[str, str]) -> OrderRecord:
    created_at = timestamp(data.get("created_at"))
    if created_at is None:
        raise ValueError(f"order {data.get('id')} has no created_at")
    customer_id = data.get("customer_id")
    return OrderRecord(
        ref=ref(data["id"]),
        channel=Channel.STORE,
        created_at=created_at,
        total=money(data.get("total_money")),
        lines=tuple(_line(line, sku_by_variation) for line in data.get("line_items") or []),
        location_id=data.get("location_id"),
        customer_ref=ref(customer_id) if customer_id else None,
        status=data.get("state"),
        number=data.get("reference_id"),
        pickup=_pickup_state(data.get("fulfillments") or []),
        payment=payment_state(data),
        fulfillment=fulfillment_state(data),
        payment_ids=tuple(
            str(t.get("payment_id") or t["id"])
            for t in data.get("tenders") or []
            if isinstance(t, dict) and t.get("type") == "CARD"
        ),
    )


def payment_state(data: dict[str, Any]) -> OrderPaymentState:
    """A Square order's payment: its tenders against its total, less what was refunded.

    A receipt rung up at the till (no `net_amount_due_money`, COMPLETED) was paid there."""
    if data.get("state") == "CANCELED":
        return OrderPaymentState.VOIDED
    total = int((data.get("total_money") or {}).get("amount") or 0)
    refunded = sum(int((r.get("amount_money") or {}).get("amount") or 0) for r in _refunds(data))
    due_money = data.get("net_amount_due_money")
    due = int(due_money.get("amount") or 0) if isinstance(due_money, dict) else 0
    paid = due == 0 and (bool(data.get("tenders")) or data.get("state") == "COMPLETED")
    if paid and refunded > 0:
        return (
            OrderPaymentState.REFUNDED
            if refunded >= total
            else (OrderPaymentState.PARTIALLY_REFUNDED)
        )
    if paid:
        return OrderPaymentState.PAID
    return OrderPaymentState.PARTIALLY_PAID if data.get("tenders") else OrderPaymentState.PENDING


def _refunds(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in data.get("refunds") or [] if isinstance(r, dict)]


def fulfillment_state(data: dict[str, Any]) -> FulfillmentState:
    """A receipt with nothing to fulfil was handed over when it completed; an order with a
    fulfillment is as far as its fulfillment (PREPARED is still waiting for the customer)."""
    state = data.get("state")
    if state == "CANCELED":
        return FulfillmentState.CANCELED
    fulfillments = [f for f in data.get("fulfillments") or [] if isinstance(f, dict)]
    if not fulfillments:
        return FulfillmentState.FULFILLED if state == "COMPLETED" else FulfillmentState.UNFULFILLED
    states = {str(f.get("state")) for f in fulfillments}
    if states <= {"COMPLETED"}:
        return FulfillmentState.FULFILLED
    if states <= {"CANCELED", "FAILED"}:
        return FulfillmentState.CANCELED
    if "COMPLETED" in states:
        return FulfillmentState.PARTIALLY_FULFILLED
    if states & {"RESERVED", "PREPARED"}:
        return FulfillmentState.IN_PROGRESS
    return FulfillmentState.UNFULFILLED


# Square's FulfillmentState of a PICKUP fulfillment: PREPARED is "ready for pickup"
PICKUP_STATES = {
    "PROPOSED": PickupState.PREPARING,
    "RESERVED": PickupState.PREPARING,
    "PREPARED": PickupState.READY_FOR_PICKUP,
    "COMPLETED": PickupState.PICKED_UP,
    "CANCELED": PickupState.CANCELED,
    "FAILED": PickupState.CANCELED,
}


def _pickup_state(fulfillments: list[dict[str, Any]]) -> PickupState | None:
    pickup = next((f for f in fulfillments if f.get("type") == "PICKUP"), None)
    if pickup is None:
        return None
    return PICKUP_STATES.get(str(pickup.get("state")), PickupState.PREPARING)


def _line(line: dict[str, Any], sku_by_variation: dict[str, str]) -> OrderLine:
    # Square line items carry no SKU, only the variation's catalog id; the ad hoc lines
    # omnigate places for SKUs the catalog lacks keep theirs in the line's metadata.
    variation_id = line.get("catalog_object_id")
    metadata = line.get("metadata")
    ad_hoc_sku = metadata.get("sku") if isinstance(metadata, dict) else None
    return OrderLine(
        sku=sku_by_variation.get(variation_id) if variation_id else ad_hoc_sku,
        name=line.get("name") or line.get("variation_name") or "",
        quantity=_quantity(line.get("quantity")),
        unit_price=money(line.get("base_price_money")),
        total=money(line.get("total_money")),
    )


def _quantity(value: Any) -> int:
    """Square quantities are decimal strings; the records count whole units."""
    try:
        quantity = Decimal(str(value))
    except InvalidOperation:
        return 0
    return int(quantity.to_integral_value()) if quantity.is_finite() else 0


# Square's loyalty event types and the sign of their points for the account's balance; the
# detail object holding `points` is named after the type in lower case
_MOVEMENT_SIGN = {
    "ACCUMULATE_POINTS": 1,
    "ACCUMULATE_PROMOTION_POINTS": 1,
    "ADJUST_POINTS": 0,  # signed already
    "CREATE_REWARD": -1,
    "DELETE_REWARD": 1,
    "EXPIRE_POINTS": -1,
}


def loyalty_movement(data: dict[str, Any]) -> LoyaltyMovement | None:
    """None for an event that moves no points (OTHER, REDEEM_REWARD: its points moved when
    the reward was created)."""
    kind = str(data["type"])
    if kind not in _MOVEMENT_SIGN:
        return None
    detail = data.get(kind.lower()) or {}
    points = int(detail.get("points") or 0)
    sign = _MOVEMENT_SIGN[kind]
    created_at = timestamp(data.get("created_at"))
    if created_at is None:
        raise ValueError(f"loyalty event {data.get('id')} has no created_at")
    return LoyaltyMovement(
        ref=ref(data["id"]),
        account_id=str(data["loyalty_account_id"]),
        kind=kind,
        points=points if sign == 0 else sign * abs(points),
        created_at=created_at,
        order_id=detail.get("order_id"),
        location_id=data.get("location_id"),
    )
