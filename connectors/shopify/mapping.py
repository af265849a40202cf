"""Shopify Admin API nodes -> omnigate records.

Anything that does not have the shape the documents asked for raises `ShapeError`; the
adapter turns it into UpstreamUnavailable, because a malformed answer is the upstream's
failure, not the caller's.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from connectors.records import (
    Channel,
    CustomerIdentity,
    ExternalRef,
    FulfillmentState,
    Money,
    OrderLine,
    OrderPaymentState,
    OrderRecord,
    PickupState,
    ProductRecord,
    System,
)

Node = dict[str, Any]
SHAPE_ERRORS = (KeyError, TypeError, ValueError, InvalidOperation, AttributeError)


def ref(gid: str) -> ExternalRef:
    return ExternalRef(System.SHOPIFY, gid)


def product(sku: str, price: str, node: Node, currency: str) -> ProductRecord:
    """A product from its Product node and the price of the variant carrying `sku`."""
    image = ((node.get("featuredMedia") or {}).get("image") or {}).get("url")
    return ProductRecord(
        sku=sku,
        name=node["title"],
        description=node.get("description") or "",
        price=Money(Decimal(price), currency),
        image_urls=(image,) if image else (),
        category=node.get("productType") or None,
        external_refs=(ref(node["id"]),),
    )


def listed_product(node: Node, currency: str) -> ProductRecord | None:
    """A product from a catalog listing; None when its first variant has no SKU to key it."""
    edges = node["variants"]["edges"]
    variant = edges[0]["node"] if edges else None
    if not variant or not variant.get("sku"):
        return None
    return product(variant["sku"], variant["price"], node, currency)


def customer(node: Node) -> CustomerIdentity:
    email = (node.get("defaultEmailAddress") or {}).get("emailAddress")
    phone = (node.get("defaultPhoneNumber") or {}).get("phoneNumber")
    return CustomerIdentity(
        ref=ref(node["id"]),
        given_name=node.get("firstName"),
        family_name=node.get("lastName"),
        email=email,
        phone=phone,
        created_at=_when(node.get("createdAt")),
        updated_at=_when(node.get("updatedAt")),
    )


def order(node: Node) -> OrderRecord:
    """An order of the shop: an online one, or a store sale (Shopify POS's own, `pos`, or
    one omnigate placed for a store) with the store it was sold at."""
    lines = tuple(_line(edge["node"]) for edge in node["lineItems"]["edges"])
    buyer = node.get("customer")
    pickup_store = _attribute(node, PICKUP_LOCATION_ATTRIBUTE)
    in_store = node.get("sourceName") in STORE_SOURCE_NAMES
    store = (node.get("retailLocation") or {}).get("id") or _attribute(
        node, STORE_LOCATION_ATTRIBUTE
    )
    return OrderRecord(
        ref=ref(node["id"]),
        channel=Channel.STORE if in_store else Channel.ONLINE,
        created_at=datetime.fromisoformat(node["createdAt"]),
        total=_money(node["totalPriceSet"]),
        lines=lines,
        customer_ref=ref(buyer["id"]) if buyer else None,
        status=node.get("displayFinancialStatus"),
        number=node.get("name"),
        location_id=pickup_store or (store if in_store else None),
        pickup=_pickup_state(node) if pickup_store else None,
        payment=_known(OrderPaymentState, node.get("displayFinancialStatus")),
        fulfillment=_fulfillment(node.get("displayFulfillmentStatus")),
        payment_ids=_square_payments(node.get("transactions") or ()),
        shop_payment_ids=_shop_payments(node.get("transactions") or ()),
        staff_name=(node.get("staffMember") or {}).get("name"),
    )


def _attribute(node: Node, key: str) -> str | None:
    return next(
        (
            attribute.get("value")
            for attribute in node.get("customAttributes") or ()
            if attribute.get("key") == key
        ),
        None,
    )


def _square_payments(transactions: Any) -> tuple[str, ...]:
    """The Square payments an order's successful sales and captures name (omnigate's
    checkout records its Square payment id as the transaction's authorization code)."""
    return tuple(
        dict.fromkeys(
            str(t["authorizationCode"])
            for t in transactions
            if t.get("gateway") == "square"
            and t.get("status") == "SUCCESS"
            and t.get("kind") in ("SALE", "CAPTURE")
            and t.get("authorizationCode")
        )
    )


# gateways through which Shopify itself took the money and refunds it: Shopify Payments,
# and Shopify's test gateway; "manual" and other external gateways are records only
SHOP_GATEWAYS = frozenset({"shopify_payments", "bogus"})


def _shop_payments(transactions: Any) -> tuple[str, ...]:
    """The successful sales and captures Shopify's own gateway took, by transaction id."""
    return tuple(
        str(t["id"])
        for t in transactions
        if t.get("gateway") in SHOP_GATEWAYS
        and t.get("status") == "SUCCESS"
        and t.get("kind") in ("SALE", "CAPTURE")
        and t.get("id")
    )


E = TypeVar("E", OrderPaymentState, FulfillmentState)


def _known(kind: type[E], value: Any) -> E:
    try:
        return kind(value)
    except ValueError:
        return kind("UNKNOWN")


# OrderDisplayFulfillmentStatus values reduced to omnigate's FulfillmentState
_FULFILLMENT = {
    "UNFULFILLED": FulfillmentState.UNFULFILLED,
    "OPEN": FulfillmentState.UNFULFILLED,
    "PENDING_FULFILLMENT": FulfillmentState.UNFULFILLED,
    "SCHEDULED": FulfillmentState.UNFULFILLED,
    "ON_HOLD": FulfillmentState.UNFULFILLED,
    "IN_PROGRESS": FulfillmentState.IN_PROGRESS,
    "PARTIALLY_FULFILLED": FulfillmentState.PARTIALLY_FULFILLED,
    "FULFILLED": FulfillmentState.FULFILLED,
    "RESTOCKED": FulfillmentState.CANCELED,
}


def _fulfillment(value: Any) -> FulfillmentState:
    return _FULFILLMENT.get(str(value), FulfillmentState.UNKNOWN)


# the order attribute omnigate's orderCreate names the pickup store with (order_input.py)
PICKUP_LOCATION_ATTRIBUTE = "pickup_location_id"
# ... and the store a store sale was rung up at (Shopify sets `retailLocation` only on its
# own POS app's orders)
STORE_LOCATION_ATTRIBUTE = "store_location_id"
# The `sourceName` of a store sale: Shopify POS's own (`pos`), and omnigate's (Shopify keeps
# `pos` for its POS app, so an app's in-store sale names itself)
POS_SOURCE_NAME = "pos"
STORE_SOURCE_NAME = "omnigate_store"
STORE_SOURCE_NAMES = frozenset((POS_SOURCE_NAME, STORE_SOURCE_NAME))
# a local-pickup order's Fulfillment.displayStatus (FulfillmentDisplayStatus)
PICKUP_DISPLAY_STATES = {
    "READY_FOR_PICKUP": PickupState.READY_FOR_PICKUP,
    "PICKED_UP": PickupState.PICKED_UP,
    "FULFILLED": PickupState.PICKED_UP,
    "MARKED_AS_FULFILLED": PickupState.PICKED_UP,
    "CANCELED": PickupState.CANCELED,
}


def _pickup_state(node: Node) -> PickupState:
    """Shopify says a pickup order is ready on its fulfillment (`displayStatus`, set by
    `fulfillmentOrderLineItemsPreparedForPickup` or staff in the admin); before there is
    one the order is being prepared, and a fulfilled order was picked up."""
    if node.get("displayFulfillmentStatus") == "FULFILLED":
        return PickupState.PICKED_UP
    states = [
        PICKUP_DISPLAY_STATES.get(str(f.get("displayStatus")))
        for f in node.get("fulfillments") or ()
    ]
    for state in (PickupState.READY_FOR_PICKUP, PickupState.PICKED_UP, PickupState.CANCELED):
        if state in states:
            return state
    return PickupState.PREPARING


def _line(node: Node) -> OrderLine:
    unit = _money(node["originalUnitPriceSet"])
    quantity = int(node["quantity"])
    return OrderLine(
        sku=node.get("sku") or None,
        name=node["name"],
        quantity=quantity,
        unit_price=unit,
        total=Money(unit.amount * quantity, unit.currency),
    )


def _money(bag: Node) -> Money:
    shop_money = bag["shopMoney"]
    return Money(Decimal(shop_money["amount"]), shop_money["currencyCode"])


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
