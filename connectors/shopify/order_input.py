"""An OrderDraft as the `order` argument of Shopify's `orderCreate`, with its fingerprint.

`orderCreate` takes no idempotency key: Shopify's `@idempotent(key:)` directive covers
refund and inventory mutations, not this one. So omnigate brings its own, on the order
itself: the checkout's key goes into an order metafield of type `id` (a custom ID, unique
across the shop's orders and readable with `orderByIdentifier`), and a fingerprint of the
`order` input into a second metafield. Placing then reads before it writes (see
`ShopifyEcommerce.place_order`): the same key and fingerprint is the same checkout retried,
the same key with another fingerprint is a reused key, and the uniqueness of the custom
ID refuses a second order for a key that two attempts race to create.

Everything here is a pure function of the draft and the SKU -> variant mapping, so a retry
of the same draft has the same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from connectors.records import Money, OrderDraft, OrderLineDraft, System
from connectors.shopify.mapping import (
    PICKUP_LOCATION_ATTRIBUTE,
    POS_SOURCE_NAME,
    STORE_LOCATION_ATTRIBUTE,
    STORE_SOURCE_NAME,
)
from connectors.shopify.settings import ShopifySettings

FINGERPRINT_KEY = "checkout_fingerprint"
# Store sales (ShopifyPos's receipts) and the online store's orders, as order searches
IN_STORE = f"(source_name:{POS_SOURCE_NAME} OR source_name:{STORE_SOURCE_NAME})"
NOT_IN_STORE = f"-source_name:{POS_SOURCE_NAME} -source_name:{STORE_SOURCE_NAME}"
TAG = "omnigate"
PICKUP_TAG = "pickup"
# orderCreate takes one discount code per order, and a code needs a name: the gateway's
# promotion engine computed the amount, so the code names where it came from.
PROMOTION_CODE = "OMNIGATE-PROMOTION"


def order_input(draft: OrderDraft, variant_by_sku: dict[str, str]) -> dict[str, Any]:
    """The OrderCreateOrderInput for `draft`, without omnigate's metafields."""
    order: dict[str, Any] = {
        "currency": draft.currency,
        # A paid checkout records its payment (taken by the payments system, not Shopify)
        # as a successful SALE naming the gateway; Shopify derives PAID from it. An order
        # placed without one is awaiting payment.
        "financialStatus": "PAID" if draft.payment is not None else "PENDING",
        "lineItems": [_line(line, variant_by_sku.get(line.sku)) for line in draft.lines],
        "tags": [TAG, PICKUP_TAG] if draft.pickup else [TAG],
    }
    customer_id = draft.customer_id(System.SHOPIFY)
    if customer_id is not None:
        order["customer"] = {"toAssociate": {"id": customer_id}}
    if draft.discount is not None and draft.discount.amount > 0:
        order["discountCode"] = {
            "itemFixedDiscountCode": {"code": PROMOTION_CODE, "amountSet": _bag(draft.discount)}
        }
    if draft.note:
        order["note"] = draft.note
    if draft.payment is not None:
        order["transactions"] = [
            {
                "kind": "SALE",
                "status": "SUCCESS",
                "gateway": draft.payment.gateway,
                "authorizationCode": draft.payment.payment_id,
                "amountSet": _bag(draft.payment.amount),
            }
        ]
    if draft.pickup and draft.location_id:
        order["customAttributes"] = [{"key": PICKUP_LOCATION_ATTRIBUTE, "value": draft.location_id}]
    return order


def store_order_input(draft: OrderDraft, variant_by_sku: dict[str, str]) -> dict[str, Any]:
    """The OrderCreateOrderInput of a store order: sold at the draft's store, paid at the
    terminal (PENDING until then, unless the draft says what paid it)."""
    order = order_input(draft, variant_by_sku)
    order["sourceName"] = STORE_SOURCE_NAME
    if draft.location_id and not draft.pickup:
        order["customAttributes"] = [{"key": STORE_LOCATION_ATTRIBUTE, "value": draft.location_id}]
    return order


def fingerprint(order: dict[str, Any]) -> str:
    """A digest of an order input that is equal exactly when the inputs are."""
    canonical = json.dumps(order, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def with_checkout_metafields(
    order: dict[str, Any], key: str, digest: str, settings: ShopifySettings
) -> dict[str, Any]:
    namespace = settings.checkout_key_namespace
    metafields = [
        {"namespace": namespace, "key": settings.checkout_key_key, "type": "id", "value": key},
        {
            "namespace": namespace,
            "key": FINGERPRINT_KEY,
            "type": "single_line_text_field",
            "value": digest,
        },
    ]
    return {**order, "metafields": metafields}


def _line(line: OrderLineDraft, variant_id: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"quantity": line.quantity, "priceSet": _bag(line.unit_price)}
    if variant_id is not None:
        item["variantId"] = variant_id
    else:
        # A SKU the shop has no variant for is a custom line item: title, SKU and price.
        item["title"] = line.sku
        item["sku"] = line.sku
    return item


def _bag(money: Money) -> dict[str, Any]:
    return {"shopMoney": {"amount": _amount(money.amount), "currencyCode": money.currency}}


def _amount(value: Decimal) -> str:
    # One spelling per value ("19.9" for 19.90 and 19.900), so equal drafts fingerprint alike.
    return format(value.normalize(), "f")
