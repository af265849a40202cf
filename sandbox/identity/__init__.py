"""A small OIDC identity provider issuing the customer, staff and kiosk tokens omnigate
verifies (see `app.create_app`)."""

from sandbox.identity.app import JWKS_PATH, SANDBOX_AUDIENCE, TOKEN_PATH, create_app
from sandbox.identity.keys import KeyRing, SigningKey

__all__ = ["JWKS_PATH", "SANDBOX_AUDIENCE", "TOKEN_PATH", "KeyRing", "SigningKey", "create_app"]
