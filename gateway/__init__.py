"""omnigate: one GraphQL API in front of a retailer's POS, e-commerce, inventory and CRM."""
