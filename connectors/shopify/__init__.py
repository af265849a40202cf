"""Shopify Admin GraphQL API adapters: the e-commerce port (catalog, prices, customers,
orders), and Shopify POS and inventory (locations, store sales, stock per location)."""

from connectors.shopify.ecommerce import ShopifyEcommerce
from connectors.shopify.inventory import ShopifyInventory
from connectors.shopify.pos import ShopifyPos
from connectors.shopify.settings import ShopifySettings

__all__ = ["ShopifyEcommerce", "ShopifyInventory", "ShopifyPos", "ShopifySettings"]
