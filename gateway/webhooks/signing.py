"""What every vendor's webhook signature has in common: base64 HMAC-SHA256, compared in
constant time, and one exception for every way a delivery can fail to prove its origin."""

from __future__ import annotations

import base64
import hashlib
import hmac


class InvalidSignature(Exception):
    """The delivery does not prove it comes from the vendor: signature missing, wrong, or
    (where the vendor signs one) its timestamp is too old. Answered 401, nothing applied."""


def hmac_sha256_base64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def require_signature(expected: str, given: str | None) -> None:
    if not given:
        raise InvalidSignature("signature header missing")
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header may carry anything.
    if not hmac.compare_digest(expected.encode("ascii"), given.strip().encode("latin-1")):
        raise InvalidSignature("signature does not match")
