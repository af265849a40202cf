"""The identity provider's public keys, fetched with the app's async client and cached.

The JWKS is fetched on first use (from `jwks_url`, or from the `jwks_uri` the issuer's OIDC
discovery document names), kept `cache_seconds`, and fetched again early when a token names
a `kid` it does not hold: that is how a key rotation is picked up. Such early fetches happen
at most once per `refetch_seconds`, so a flood of tokens with made-up `kid`s costs the IdP
one request per interval, not one per token. Concurrent misses share one fetch.

When the IdP cannot be reached the keys already held keep being used; a token naming any
other key then gets `IdentityUnavailable` (503), never a refusal of what may be a good token.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Collection
from typing import Any

import httpx
import orjson
from jwt import PyJWK
from jwt.exceptions import InvalidKeyError, PyJWKError

from gateway.auth.errors import IdentityUnavailable

log = logging.getLogger(__name__)
Clock = Callable[[], float]
DISCOVERY_PATH = "/.well-known/openid-configuration"
FETCH_TIMEOUT_SECONDS = 3.0


class JwksFetchError(Exception):
    pass


class JwksCache:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        issuer: str,
        jwks_url: str | None,
        algorithms: Collection[str],
        cache_seconds: float,
        refetch_seconds: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self._client = client
        self._issuer = issuer.rstrip("/")
        self._jwks_url = jwks_url
        self._algorithms = frozenset(algorithms)
        self._cache_seconds = cache_seconds
        self._refetch_seconds = refetch_seconds
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._refresh_at = -math.inf  # when the held keys are due to be fetched again
        self._refetch_from = -math.inf  # the earliest an unknown kid may cause a fetch
        self._fetch_failed = False
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> PyJWK | None:
        """The verification key named `kid`, or None when the IdP does not publish it."""
        if self._due(kid):
            async with self._lock:
                if self._due(kid):  # another request may have fetched while this one waited
                    await self._refresh()
        if self._fetch_failed and kid not in self._keys:
            # the token may well be good, signed with a key published since the last fetch
            raise IdentityUnavailable(
                "The identity provider's signing keys cannot be fetched; retry shortly.",
                service="identity",
            )
        return self._keys.get(kid)

    def _due(self, kid: str) -> bool:
        now = self._clock()
        return now >= self._refresh_at or (kid not in self._keys and now >= self._refetch_from)

    async def _refresh(self) -> None:
        now = self._clock()
        self._refetch_from = now + self._refetch_seconds
        try:
            keys = await self._fetch()
        except JwksFetchError as exc:
            # keep what is held; try again after the refetch interval, not the full TTL
            log.warning("JWKS fetch failed, keeping %d cached keys: %s", len(self._keys), exc)
            self._fetch_failed = True
            self._refresh_at = now + self._refetch_seconds
            return
        self._fetch_failed = False
        self._keys = keys
        self._refresh_at = now + self._cache_seconds

    async def _fetch(self) -> dict[str, PyJWK]:
        url = self._jwks_url or await self._discover()
        document = await self._get_json(url)
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise JwksFetchError(f"{url} holds no `keys` list")
        keys = {}
        for entry in entries:
            if (key := self._usable(entry)) is not None:
                keys[entry["kid"]] = key
        return keys

    async def _discover(self) -> str:
        document = await self._get_json(self._issuer + DISCOVERY_PATH)
        # OpenID Connect Discovery 1.0 section 4.3: the document must name the same issuer
        if str(document.get("issuer", "")).rstrip("/") != self._issuer:
            raise JwksFetchError(f"discovery names issuer {document.get('issuer')!r}")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise JwksFetchError("discovery names no jwks_uri")
        self._jwks_url = jwks_uri
        return jwks_uri

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._client.get(url, timeout=FETCH_TIMEOUT_SECONDS)
        except httpx.HTTPError as exc:
            raise JwksFetchError(f"GET {url}: {type(exc).__name__} {exc}") from exc
        if response.status_code != 200:
            raise JwksFetchError(f"GET {url}: HTTP {response.status_code}")
        try:
            document = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise JwksFetchError(f"GET {url}: not JSON") from exc
        if not isinstance(document, dict):
            raise JwksFetchError(f"GET {url}: not a JSON object")
        return document

    def _usable(self, entry: object) -> PyJWK | None:
        """A signing key of an allowed asymmetric algorithm; anything else is skipped, so a
        symmetric (`oct`) key published by mistake can never verify a token."""
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            return None
        if entry.get("use", "sig") != "sig" or entry.get("kty") not in ("RSA", "EC", "OKP"):
            return None
        try:
            key = PyJWK(entry)
        except (PyJWKError, InvalidKeyError) as exc:
            log.warning("JWKS key %s skipped: %s", entry["kid"], exc)
            return None
        return key if key.algorithm_name in self._algorithms else None
