"""Shopify Admin GraphQL API adapter: the e-commerce port (catalog, prices, customers, orders)."""

from connectors.shopify.ecommerce import ShopifyEcommerce
from connectors.shopify.settings import ShopifySettings

__all__ = ["ShopifyEcommerce", "ShopifySettings"]
