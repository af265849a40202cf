"""A local simulator of the Shopify Admin GraphQL API, serving the sandbox dataset."""

from sandbox.shopify.app import SANDBOX_ACCESS_TOKEN, create_app
from sandbox.shopify.throttle import ADVANCED, ENTERPRISE, PLUS, STANDARD, ThrottlePlan

__all__ = [
    "ADVANCED",
    "ENTERPRISE",
    "PLUS",
    "SANDBOX_ACCESS_TOKEN",
    "STANDARD",
    "ThrottlePlan",
    "create_app",
]
