"""The commerce domain: cart, checkout, wishlist, offers, loyalty, referrals, the merged
customer profile and their MongoDB stores. It knows no GraphQL, no web server and no
vendor: products and stock come through `ports.CatalogReads`, customers, orders and stores
through connectors.ports (docs/architecture.md)."""
