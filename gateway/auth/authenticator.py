"""From what a request presents to its principal.

HTTP requests present headers; a graphql-transport-ws connection presents the same in its
`connection_init` payload (browsers cannot set headers on a websocket):

| what                        | HTTP header                   | connection_init payload key |
|-----------------------------|-------------------------------|-----------------------------|
| customer, staff or kiosk    | `Authorization: Bearer <jwt>` | `authorization`             |
| a guest cart token (opaque) | `X-Cart-Token`                | `cartToken`                 |
| a kiosk hand-off            | `X-Handoff-Token`             | `handoffToken`              |

Nothing presented is ANONYMOUS, at the cost of one pass over the headers. Anything presented and
not good (a token that does not verify, another scheme than Bearer, a hand-off that is
expired, for another store or claimed by another kiosk, or sent by a non-kiosk) refuses the
whole request: a client that sent credentials wants to know they did not count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from commerce.principal import ANONYMOUS, Principal, PrincipalKind
from gateway.auth.claims import principal_from_claims
from gateway.auth.errors import IdentityUnavailable, InvalidCredentials
from gateway.auth.handoff import KioskHandoffs
from gateway.auth.jwks import JwksCache
from gateway.auth.verifier import TokenVerifier
from gateway.settings import AuthSettings

AUTHORIZATION = "authorization"
CART_TOKEN_HEADER = "x-cart-token"
HANDOFF_HEADER = "x-handoff-token"
# each header's name as an ASGI scope holds it -> the Credentials field it fills
_CREDENTIAL_FIELDS = {
    AUTHORIZATION.encode(): "authorization",
    CART_TOKEN_HEADER.encode(): "cart_token",
    HANDOFF_HEADER.encode(): "handoff_token",
}
# what the cart code receives is bounded; its own checks decide whether the token is a cart
MAX_CART_TOKEN_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Credentials:
    authorization: str | None = None
    cart_token: str | None = None
    handoff_token: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Credentials:
        return cls(
            authorization=_present(headers.get(AUTHORIZATION)),
            cart_token=_present(headers.get(CART_TOKEN_HEADER)),
            handoff_token=_present(headers.get(HANDOFF_HEADER)),
        )

    @classmethod
    def from_raw_headers(cls, raw: Iterable[tuple[bytes, bytes]]) -> Credentials:
        """`from_headers` over an ASGI scope's headers (lower-case names, as ASGI has
        them) in one pass rather than three lookups; the first of a repeated header
        counts, as with `Headers.get`."""
        found: dict[str, str] = {}
        for name, value in raw:
            field = _CREDENTIAL_FIELDS.get(name)
            if field is not None and field not in found:
                found[field] = value.decode("latin-1")
        if not found:
            return _NONE
        return cls(**{field: _present(value) for field, value in found.items()})

    @classmethod
    def from_connection_params(
        cls, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> Credentials:
        """The `connection_init` payload; a key it lacks falls back to the handshake's
        header (non-browser clients may send those)."""
        from_payload = cls(
            authorization=_present(params.get("authorization")),
            cart_token=_present(params.get("cartToken")),
            handoff_token=_present(params.get("handoffToken")),
        )
        from_handshake = cls.from_headers(headers)
        return cls(
            authorization=from_payload.authorization or from_handshake.authorization,
            cart_token=from_payload.cart_token or from_handshake.cart_token,
            handoff_token=from_payload.handoff_token or from_handshake.handoff_token,
        )


def _present(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


class Authenticator:
    def __init__(self, verifier: TokenVerifier, handoffs: KioskHandoffs) -> None:
        self.verifier = verifier
        self.handoffs = handoffs

    async def principal(self, credentials: Credentials) -> Principal:
        """Raises InvalidCredentials (401) or IdentityUnavailable (503)."""
        if credentials == _NONE:
            return ANONYMOUS
        principal = ANONYMOUS
        if credentials.authorization is not None:
            claims = await self.verifier.claims(_bearer(credentials.authorization))
            principal = principal_from_claims(claims)
        if credentials.handoff_token is not None:
            principal = await self._with_handoff(principal, credentials.handoff_token)
        if credentials.cart_token is not None:
            if len(credentials.cart_token) > MAX_CART_TOKEN_LENGTH:
                raise InvalidCredentials("The cart token is too long.")
            principal = replace(principal, cart_token=credentials.cart_token)
        return principal

    async def _with_handoff(self, kiosk: Principal, token: str) -> Principal:
        if kiosk.kind is not PrincipalKind.KIOSK or kiosk.subject is None or not kiosk.store_id:
            raise InvalidCredentials("A hand-off token is accepted only with a kiosk token.")
        try:
            handoff = await self.handoffs.redeem(
                token, store_id=kiosk.store_id, device_id=kiosk.subject
            )
        except PyMongoError as exc:
            raise IdentityUnavailable(
                "Kiosk hand-offs cannot be checked right now; retry shortly.", service="mongodb"
            ) from exc
        if handoff is None:
            raise InvalidCredentials(
                "The hand-off is expired, for another store, or in use at another kiosk."
            )
        expiry = handoff.expires_at.timestamp()
        if kiosk.expires_at is not None:
            expiry = min(expiry, kiosk.expires_at)
        return replace(kiosk, handoff_customer_id=handoff.customer_id, expires_at=expiry)


_NONE = Credentials()


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidCredentials("The Authorization header must be `Bearer <token>`.")
    return token.strip()


def build_authenticator(
    settings: AuthSettings, client: httpx.AsyncClient, database: AsyncDatabase[dict[str, Any]]
) -> Authenticator:
    keys = JwksCache(
        client,
        issuer=settings.issuer,
        jwks_url=settings.jwks_url,
        algorithms=settings.algorithms,
        cache_seconds=settings.jwks_cache_seconds,
        refetch_seconds=settings.jwks_refetch_seconds,
    )
    verifier = TokenVerifier(
        keys,
        issuer=settings.issuer,
        audience=settings.audience,
        algorithms=settings.algorithms,
        leeway_seconds=settings.leeway_seconds,
    )
    handoffs = KioskHandoffs(database, timedelta(seconds=settings.handoff_ttl_seconds))
    return Authenticator(verifier, handoffs)
