"""HubSpot's webhook requests (POST /webhooks/hubspot, gateway/webhooks/endpoints.py): the
v3 signature, and the contacts a batch of events concerns.

`X-HubSpot-Signature-v3` is base64 HMAC-SHA256, keyed with the app's client secret, of
method + URI + body + `X-HubSpot-Request-Timestamp` (milliseconds since the epoch); requests
whose timestamp is older than 5 minutes are refused. Before signing, the URI has a fixed set
of percent-encoded characters decoded
(developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.webhooks.signing import InvalidSignature, hmac_sha256_base64, require_signature

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
MAX_AGE = timedelta(minutes=5)
CONTACT_TYPE_ID = "0-1"  # contacts' object type id, in the generic `object.*` events

# The characters HubSpot's instructions decode in the request URI before signing.
_DECODED = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


def signed_uri(uri: str) -> str:
    return _DECODED.sub(lambda match: chr(int(match.group(1), 16)), uri)


def verify_hubspot_v3(
    client_secret: str,
    *,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    max_age: timedelta = MAX_AGE,
    now: datetime | None = None,
) -> None:
    """Raise InvalidSignature unless the request is signed and fresh. `uri` is the full URL
    HubSpot called (scheme, host, path, query)."""
    if not timestamp or not timestamp.isdigit():
        raise InvalidSignature("timestamp header missing or not milliseconds")
    try:
        sent_at = datetime.fromtimestamp(int(timestamp) / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidSignature("timestamp out of range") from exc
    age = (now or datetime.now(UTC)) - sent_at
    # A timestamp from the future would stretch the replay window as much as an old one.
    if age > max_age or age < -max_age:
        raise InvalidSignature("timestamp outside the accepted window")
    message = method.upper().encode() + signed_uri(uri).encode() + body + timestamp.encode()
    require_signature(hmac_sha256_base64(client_secret.encode(), message), signature)


def hubspot_delivery_id(events: list[Any]) -> str | None:
    """One id for a request's batch of events: HubSpot retries a failed request with the
    same events (the same `eventId`s, `attemptNumber` counting up), so the sorted event ids
    name it; hashed, as a batch holds up to 100. None when an event has no id."""
    ids = [_object(event).get("eventId") for event in events]
    if not ids or not all(isinstance(i, int | str) and str(i) for i in ids):
        return None
    joined = ",".join(sorted(str(i) for i in ids))
    return hashlib.sha256(joined.encode()).hexdigest()


def hubspot_contact_ids(events: list[Any]) -> set[str]:
    """The HubSpot contact ids whose cached profiles the events make stale: every
    `contact.*` event's `objectId` (property change, creation, deletion, privacy deletion,
    association change), and on a merge the contacts merged and the one they became; the
    same of the generic `object.*` events about contacts (`objectTypeId` 0-1). Other
    objects' events change nothing a profile holds."""
    found: list[Any] = []
    for event in map(_object, events):
        kind = event.get("subscriptionType")
        about_contacts = isinstance(kind, str) and (
            kind.startswith("contact.")
            or (kind.startswith("object.") and event.get("objectTypeId") == CONTACT_TYPE_ID)
        )
        if not about_contacts:
            continue
        found += [event.get("objectId"), event.get("primaryObjectId"), event.get("newObjectId")]
        merged = event.get("mergedObjectIds")
        found += merged if isinstance(merged, list) else []
    return {str(value) for value in found if isinstance(value, int) and not isinstance(value, bool)}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
