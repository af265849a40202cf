"""The webhook requests HubSpot sends a subscribed app, signed as HubSpot signs them.

A batch of events (a JSON array, up to 100) POSTed to the app's target URL, with
`X-HubSpot-Signature-v3`: base64 HMAC-SHA256, keyed with the app's client secret, of
method + URI + body + `X-HubSpot-Request-Timestamp` (milliseconds since the epoch). Each
`contact.propertyChange` event names the contact (`objectId`, a number), the property and
its new value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

PORTAL_ID = 62515
APP_ID = 1160452
SUBSCRIPTION_ID = 2881778
_event_ids = itertools.count(100)


@dataclass(slots=True)
class AppWebhooks:
    """The subscribed app's webhook settings: where HubSpot sends (None: nowhere, the
    request is only made) and the client secret that signs."""

    target_url: str | None
    client_secret: str
    # the URL signed while no target is set, for a test to replay the request to
    unsent_url: str


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request as HubSpot would send it; what a test replays or the simulator sends."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "body": self.body.decode(),
        }


def property_changes(contact_id: str, changes: dict[str, str | None]) -> list[dict[str, Any]]:
    """One `contact.propertyChange` event per changed property."""
    occurred = int(time.time() * 1000)
    return [
        {
            "eventId": next(_event_ids),
            "subscriptionId": SUBSCRIPTION_ID,
            "portalId": PORTAL_ID,
            "appId": APP_ID,
            "occurredAt": occurred,
            "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0,
            "objectId": int(contact_id),
            "propertyName": name,
            "propertyValue": value if value is not None else "",
            "changeSource": "CRM_UI",
            "sourceId": "userId:1234567",
        }
        for name, value in changes.items()
    ]


def signed(url: str, events: list[dict[str, Any]], client_secret: str) -> SignedRequest:
    body = json.dumps(events, separators=(",", ":")).encode()
    timestamp = str(int(time.time() * 1000))
    message = b"POST" + url.encode() + body + timestamp.encode()
    signature = base64.b64encode(
        hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    ).decode()
    return SignedRequest(
        "POST",
        url,
        {
            "content-type": "application/json",
            "x-hubspot-signature-v3": signature,
            "x-hubspot-request-timestamp": timestamp,
        },
        body,
    )
