"""HubSpot request signatures, v3 (for when HubSpot is the CRM; no route while it is not).

`X-HubSpot-Signature-v3` is base64 HMAC-SHA256, keyed with the app's client secret, of
method + URI + body + `X-HubSpot-Request-Timestamp` (milliseconds since the epoch); requests
whose timestamp is older than 5 minutes are refused. Before signing, the URI has a fixed set
of percent-encoded characters decoded
(developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from gateway.webhooks.signing import InvalidSignature, hmac_sha256_base64, require_signature

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
MAX_AGE = timedelta(minutes=5)

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
