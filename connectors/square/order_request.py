"""An OrderDraft as the body of Square's CreateOrder (`POST /v2/orders`).

The body is a pure function of the draft and the SKU -> variation mapping: Square replays
a CreateOrder only when the retry carries the same `idempotency_key` *and* the same body,
so nothing here may vary between attempts (no generated uids, no timestamps).

Prices: omnigate's price source is Shopify, and the Square catalog may hold another price
for the same variation. Square honours `base_price_money` on a catalog line ("If both
`catalog_object_id` and `base_price_money` are set, `base_price_money` will override the
CatalogItemVariation's price"), so every line carries the price the shopper saw and keeps
its `catalog_object_id`, which is what makes Square count the sale against inventory. A SKU
the Square catalog does not know becomes an ad hoc line (name and price, SKU in metadata).
"""

from __future__ import annotations

from typing import Any

from connectors.records import OrderDraft, OrderLineDraft, System
from connectors.square.mapping import square_money

# Order.reference_id: "Max length: 40".
REFERENCE_ID_MAX = 40
# Metadata values: "Values have a maximum length of 255 characters."
METADATA_VALUE_MAX = 255
PROMOTION_UID = "omnigate-promotion"
GUEST_RECIPIENT = "Guest"


def create_order_body(
    draft: OrderDraft, location_id: str, variation_by_sku: dict[str, str]
) -> dict[str, Any]:
    customer_id = draft.customer_id(System.SQUARE)
    order: dict[str, Any] = {
        "location_id": location_id,
        # Traces the POS order back to the omnigate checkout that placed it.
        "reference_id": draft.idempotency_key[:REFERENCE_ID_MAX],
        "line_items": [_line(line, variation_by_sku.get(line.sku)) for line in draft.lines],
        "state": "OPEN",
    }
    if customer_id is not None:
        order["customer_id"] = customer_id
    if draft.discount is not None and draft.discount.amount > 0:
        order["discounts"] = [
            {
                "uid": PROMOTION_UID,
                "name": "Promotion",
                "type": "FIXED_AMOUNT",
                "amount_money": square_money(draft.discount),
                "scope": "ORDER",
            }
        ]
    if draft.pickup:
        order["fulfillments"] = [_pickup(customer_id, draft.note)]
    elif draft.note:
        # An Order has no note of its own outside a fulfillment.
        order["metadata"] = {"note": draft.note[:METADATA_VALUE_MAX]}
    return {"idempotency_key": draft.idempotency_key, "order": order}


def _line(line: OrderLineDraft, variation_id: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "quantity": str(line.quantity),
        "base_price_money": square_money(line.unit_price),
    }
    if variation_id is not None:
        item["catalog_object_id"] = variation_id
    else:
        item["name"] = line.sku
        item["metadata"] = {"sku": line.sku}
    return item


def _pickup(customer_id: str | None, note: str | None) -> dict[str, Any]:
    # A known customer fills the recipient's name and contact from their profile.
    recipient = {"customer_id": customer_id} if customer_id else {"display_name": GUEST_RECIPIENT}
    details: dict[str, Any] = {"recipient": recipient, "schedule_type": "ASAP"}
    if note:
        details["note"] = note[:500]  # FulfillmentPickupDetails.note: "Max length: 500"
    return {"type": "PICKUP", "state": "PROPOSED", "pickup_details": details}
