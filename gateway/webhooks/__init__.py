"""Vendor-signed webhooks in: verifiers per vendor and the delivery log; the Starlette routes
are in endpoints.py (not imported here: they need the app's services, which need the log)."""

from gateway.webhooks.delivery import DeliveryNotApplied, DeliveryOutcome, apply_delivery
from gateway.webhooks.hubspot import hubspot_contact_ids, hubspot_delivery_id, verify_hubspot_v3
from gateway.webhooks.shopify import shopify_customer_gids, verify_shopify
from gateway.webhooks.signing import InvalidSignature
from gateway.webhooks.square import square_ids, verify_square

__all__ = [
    "DeliveryNotApplied",
    "DeliveryOutcome",
    "InvalidSignature",
    "apply_delivery",
    "hubspot_contact_ids",
    "hubspot_delivery_id",
    "shopify_customer_gids",
    "square_ids",
    "verify_hubspot_v3",
    "verify_shopify",
    "verify_square",
]
