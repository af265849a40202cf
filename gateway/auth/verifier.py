"""Verifying a bearer JWT against the identity provider's JWKS.

The order matters: the header's `alg` is checked against the allow-list before any key is
looked up, so `none` and every HS* algorithm are refused outright (an HS256 token "signed"
with the RSA public key, the RS/HS confusion, never reaches a verifier); the key comes from
the JWKS by `kid`, and PyJWT then verifies with the algorithm bound to that key, not the one
the token claims. Issuer, audience, expiry (with a small leeway) and not-before follow.

A token that verified is remembered by its exact text (gateway/auth/verified_tokens.py says
what is checked again on each later request that presents it).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)

from gateway.auth.claims import REQUIRED_CLAIMS
from gateway.auth.errors import InvalidCredentials
from gateway.auth.jwks import JwksCache
from gateway.auth.verified_tokens import VerifiedToken, VerifiedTokens

# a JWT this long is no token an IdP issued; refused before it is parsed
MAX_TOKEN_LENGTH = 8192
_REFUSALS: tuple[tuple[type[PyJWTError], str], ...] = (
    (ExpiredSignatureError, "The token has expired."),
    (ImmatureSignatureError, "The token is not valid yet."),
    (InvalidIssuerError, "The token was issued by another issuer."),
    (InvalidAudienceError, "The token is meant for another audience."),
    (InvalidSignatureError, "The token's signature does not verify."),
    (MissingRequiredClaimError, "The token lacks a required claim."),
)


class TokenVerifier:
    def __init__(
        self,
        keys: JwksCache,
        *,
        issuer: str,
        audience: str,
        algorithms: Collection[str],
        leeway_seconds: float,
        verified: VerifiedTokens | None = None,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._algorithms = frozenset(algorithms)
        self._leeway = leeway_seconds
        self._verified = VerifiedTokens() if verified is None else verified

    async def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of `token`; InvalidCredentials when it proves nothing."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidCredentials("The token is too long.")
        known = self._verified.get(token)
        if known is not None:
            if await self._keys.key(known.kid) is known.key:
                return dict(known.claims)  # a copy: the caller may keep or change it
            self._verified.forget(token)  # its key was withdrawn or refetched: in full
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError as exc:
            raise InvalidCredentials("The token is not a JWT.") from exc
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise InvalidCredentials("The token's signing algorithm is not accepted.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidCredentials("The token names no signing key (`kid`).")
        key = await self._keys.key(kid)
        if key is None:
            raise InvalidCredentials("The token is signed with a key the issuer does not publish.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": False},
            )
        except PyJWTError as exc:
            raise InvalidCredentials(_reason(exc)) from exc
        # `exp` is required and PyJWT has checked it is a number
        expires_at = float(claims["exp"]) + self._leeway
        self._verified.remember(token, VerifiedToken(dict(claims), kid, key, expires_at))
        return claims


def _reason(error: PyJWTError) -> str:
    for kind, message in _REFUSALS:
        if isinstance(error, kind):
            return message
    return "The token is not valid."
