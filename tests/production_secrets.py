"""Settings that production accepts: every secret set to something that is not the
sandbox's, and a public Square notification URL. Tests that check one production rule
start from these and take away or change the one they are about."""

from __future__ import annotations

from typing import Any

VENDOR_SECRETS: dict[str, Any] = {
    "square": {"access_token": "real"},
    "shopify": {"access_token": "real"},
    "salesforce": {"client_secret": "real"},
    "webhooks": {
        "square_signature_key": "real",
        "shopify_secret": "real",
        # production refuses the loopback default: Square signs the URL it calls
        "square_notification_url": "https://api.example.com/webhooks/square",
    },
}
OFFERS_SECRETS: dict[str, Any] = {"offers": {"quote_secret": "real", "webhook_secret": "real"}}
PRODUCTION_SECRETS: dict[str, Any] = {**VENDOR_SECRETS, **OFFERS_SECRETS}
