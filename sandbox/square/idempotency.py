"""Square's idempotency keys as the simulator keeps them: a key names its first request, a
repeat of that request answers the first answer, and the same key on another request is
`IDEMPOTENCY_KEY_REUSED` (Square's "Idempotency" guide)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from typing import Any, Protocol, TypeVar

from sandbox.square.envelope import invalid_request


class KeyUse(Protocol):
    @property
    def fingerprint(self) -> str: ...


Use = TypeVar("Use", bound=KeyUse)


def fingerprint(body: Mapping[str, Any]) -> str:
    """The request as Square compares it: the same body, whatever its key order."""
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def first_use(uses: Mapping[str, Use], key: str, body: Mapping[str, Any]) -> Use | None:
    """The key's first request if `body` repeats it, None for a new key; refused when the
    key was used for another request."""
    first = uses.get(key)
    if first is not None and first.fingerprint != fingerprint(body):
        raise invalid_request(
            "IDEMPOTENCY_KEY_REUSED",
            "The provided idempotency key has already been used for a different request.",
            "idempotency_key",
        )
    return first


def refuse_unknown_fields(body: Mapping[str, Any], fields: Collection[str], request: str) -> None:
    for name in body:
        if name not in fields:
            raise invalid_request(
                "UNKNOWN_BODY_PARAMETER", f"`{name}` is not a field of {request}.", name
            )
