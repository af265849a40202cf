"""Tokens verified a moment ago, so a device's next request skips the signature check.

A device sends the same bearer token with every request until it expires. Verifying it in
full costs about 0.3 ms of CPU each time (PyJWT checks every base64 character, then the RSA
signature), a tenth of a cart write. An entry is keyed by the token's exact text, so it
answers that text only: any other, a forged signature or claim included, misses and is
verified in full. What can change for the same text is checked again on every hit: the
expiry (with the same leeway) and that the key which verified it is still the one the JWKS
publishes under its `kid`, so a key withdrawn from the JWKS stops its tokens at once, as
without the cache. Not-before and issued-at only ever become truer, so they need no check.

Bounded: when full, the oldest entry goes first (a dict keeps insertion order).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jwt import PyJWK

# a pod's active devices in one JWKS period; 1,000 entries of ~1.5 KB tokens is ~2 MB
DEFAULT_CAPACITY = 1000


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    claims: dict[str, Any]
    kid: str
    key: PyJWK
    expires_at: float  # the `exp` claim plus the leeway


class VerifiedTokens:
    def __init__(
        self, *, capacity: int = DEFAULT_CAPACITY, clock: Callable[[], float] = time.time
    ) -> None:
        self._capacity = capacity
        self._clock = clock
        self._entries: dict[str, VerifiedToken] = {}

    def get(self, token: str) -> VerifiedToken | None:
        """The entry for `token` while its expiry has not passed; an expired one is dropped
        (the caller verifies the token in full, which refuses it with the reason)."""
        entry = self._entries.get(token)
        if entry is not None and self._clock() >= entry.expires_at:
            del self._entries[token]
            return None
        return entry

    def remember(self, token: str, entry: VerifiedToken) -> None:
        if len(self._entries) >= self._capacity:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = entry

    def forget(self, token: str) -> None:
        self._entries.pop(token, None)

    def __len__(self) -> int:
        return len(self._entries)
