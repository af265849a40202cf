"""A faithful local simulator of the Square APIs omnigate uses (see `app.create_app`)."""

from sandbox.square.app import SANDBOX_ACCESS_TOKEN, create_app
from sandbox.square.envelope import DEFAULT_SQUARE_VERSION, NoRateLimit, RateLimitPolicy

__all__ = [
    "DEFAULT_SQUARE_VERSION",
    "SANDBOX_ACCESS_TOKEN",
    "NoRateLimit",
    "RateLimitPolicy",
    "create_app",
]
