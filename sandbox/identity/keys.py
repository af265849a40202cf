"""The identity provider's signing keys: one signs, the retired ones stay published a while.

A real IdP rotates by publishing a new key, signing with it, and keeping the previous key in
its JWKS until every token signed with it has expired; `rotate` does the same, so a relying
party that caches the JWKS meets a `kid` it has not seen yet while older tokens still verify.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

Clock = Callable[[], float]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
SUPPORTED_ALGORITHMS = ("RS256", "ES256")
# Longer than the longest token this IdP issues (24 h), as a real IdP's overlap would be.
DEFAULT_RETENTION_SECONDS = 25 * 3600


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key: PrivateKey
    retired_at: float | None = None

    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        jwk = (
            RSAAlgorithm.to_jwk(public, as_dict=True)
            if isinstance(public, rsa.RSAPublicKey)
            else ECAlgorithm.to_jwk(public, as_dict=True)
        )
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}


def generate_key(algorithm: str) -> PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unsupported algorithm {algorithm!r}; use one of {SUPPORTED_ALGORITHMS}")


class KeyRing:
    """The current signing key and the retired keys still published in the JWKS."""

    def __init__(
        self,
        algorithm: str = "RS256",
        *,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        clock: Clock = time.time,
    ) -> None:
        self.retention_seconds = retention_seconds
        self._clock = clock
        self._current = self._new_key(algorithm)
        self._retired: list[SigningKey] = []

    @property
    def current(self) -> SigningKey:
        return self._current

    def rotate(self, algorithm: str | None = None) -> SigningKey:
        """Sign with a new key from now on; the old one stays published for the retention."""
        retired = SigningKey(
            self._current.kid,
            self._current.algorithm,
            self._current.private_key,
            retired_at=self._clock(),
        )
        self._retired.append(retired)
        self._current = self._new_key(algorithm or self._current.algorithm)
        return self._current

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        now = self._clock()
        self._retired = [
            key
            for key in self._retired
            if key.retired_at is not None and now - key.retired_at < self.retention_seconds
        ]
        return {"keys": [key.public_jwk() for key in (self._current, *self._retired)]}

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """A JWT signed with the current key; `headers` may override `kid` (tests do)."""
        key = self._current
        return jwt.encode(
            dict(claims),
            key.private_key,
            algorithm=key.algorithm,
            headers={"kid": key.kid, **(headers or {})},
        )

    @staticmethod
    def _new_key(algorithm: str) -> SigningKey:
        return SigningKey(secrets.token_hex(8), algorithm, generate_key(algorithm))
