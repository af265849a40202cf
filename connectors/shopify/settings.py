"""Where the Shopify Admin API is and how to reach it.

A plain model, not a pydantic-settings class: the gateway's settings own the environment
and hand this section down. The defaults point at the sandbox simulator; against a real
shop `base_url` is `https://{shop}.myshopify.com` and the token an Admin API access token.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr


class ShopifySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_url: str = "http://127.0.0.1:8102"
    access_token: SecretStr = SecretStr("shpat_sandbox")
    # The latest stable Admin API version (supported until at least July 2027).
    api_version: str = "2026-07"
    # Where an order placed by omnigate keeps its checkout's idempotency key: an order
    # metafield of type `id` (a custom ID: unique across the shop's orders, and readable
    # with `orderByIdentifier`). The shop needs that metafield definition once, created
    # with `metafieldDefinitionCreate(ownerType: ORDER, type: "id", namespace, key)`;
    # without it Shopify does not enforce the uniqueness placement relies on.
    checkout_key_namespace: str = "omnigate"
    checkout_key_key: str = "checkout_key"
    # With Shopify as POS and inventory (docs/vendors/shopify.md): the Location that ships
    # online orders, whose stock an online cart is counted against, as Square's
    # `online_location_id` is with Square. The default is the sandbox's warehouse.
    online_location_id: str = "gid://shopify/Location/9100000013"

    @property
    def graphql_path(self) -> str:
        return f"/admin/api/{self.api_version}/graphql.json"
