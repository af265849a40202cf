"""How authentication and authorization refuse.

Credentials that are presented but not good enough refuse the whole request before any
operation runs, as Apollo Router's JWT authentication does:

AuthRefusal                     the request is answered with no operation run
├── InvalidCredentials          401 UNAUTHENTICATED + WWW-Authenticate: Bearer error="invalid_token"
└── IdentityUnavailable         503 UPSTREAM_UNAVAILABLE, service "identity" (the JWKS cannot
                                be fetched) or "mongodb" (a hand-off cannot be looked up)

A valid principal that may not read a field gets a GraphQL error at that field (HTTP 200,
partial data), through commerce.errors.PublicError (defined there, re-exported here):

Unauthenticated   UNAUTHENTICATED  the field needs a signed-in customer (or staff) and there is none
Forbidden         FORBIDDEN        signed in, but this kind of principal may not use the field
NotFound          NOT_FOUND        another customer's data: answered as if it did not exist
"""

from __future__ import annotations

from commerce.errors import UNAUTHENTICATED, FieldRefusal, Forbidden, NotFound, Unauthenticated

__all__ = [
    "AuthRefusal",
    "FieldRefusal",
    "Forbidden",
    "IdentityUnavailable",
    "InvalidCredentials",
    "NotFound",
    "Unauthenticated",
]


class AuthRefusal(Exception):
    status = 401
    code = UNAUTHENTICATED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str]:
        return {}

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code}


class InvalidCredentials(AuthRefusal):
    """A bearer token, or a hand-off token, that does not prove anything."""

    @property
    def headers(self) -> dict[str, str]:
        # RFC 6750 section 3; the description is ours and never echoes the token
        description = self.message.replace('"', "'")
        return {
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'
        }


class IdentityUnavailable(AuthRefusal):
    status = 503
    code = "UPSTREAM_UNAVAILABLE"

    def __init__(self, message: str, service: str) -> None:
        super().__init__(message)
        self.service = service

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "service": self.service}
