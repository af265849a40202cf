"""The GraphQL documents of the Shopify POS and inventory adapters, and their page sizes.

The same 1,000-point single-query cap as documents.py (objects 1, connections 2 + first x
node cost, scalars 0); each comment gives the sum.
"""

from __future__ import annotations

from connectors.shopify.documents import FULFILLMENTS_PER_ORDER, LINES_PER_ORDER

# shop 1 + 2 + 250 x (location 1 + address 1) = 503.
LOCATIONS_PER_PAGE = 250
LOCATIONS = """
query Locations($first: Int!, $after: String) {
  shop { ianaTimezone }
  locations(first: $first, after: $after, sortKey: ID) {
    edges {
      node {
        id
        name
        isActive
        address {
          address1
          address2
          city
          provinceCode
          zip
          countryCode
          phone
          latitude
          longitude
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# Per receipt: CustomerOrders' 38 (documents.py) + retailLocation 1 + staffMember 1 = 40;
# 2 + 24 x 40 = 962.
STORE_ORDERS_PER_PAGE = 24
STORE_ORDERS = f"""
query StoreOrders($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT, reverse: true) {{
    edges {{
      node {{
        id
        name
        createdAt
        sourceName
        retailLocation {{ id }}
        staffMember {{ name }}
        displayFinancialStatus
        displayFulfillmentStatus
        customAttributes {{ key value }}
        fulfillments(first: {FULFILLMENTS_PER_ORDER}) {{ displayStatus }}
        totalPriceSet {{ shopMoney {{ amount currencyCode }} }}
        customer {{ id }}
        lineItems(first: {LINES_PER_ORDER}) {{
          edges {{
            node {{
              sku
              name
              quantity
              originalUnitPriceSet {{ shopMoney {{ amount currencyCode }} }}
            }}
          }}
        }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

# A SKU's sellable units per location: variant 1 + inventoryItem 1 + inventoryLevels
# (2 + LEVELS_PER_ITEM x (level 1 + location 1 + quantities 1)) = 4 + 3 x 15 = 49, so
# 2 + 20 x 49 = 982: a product page of 20 SKUs stocked at up to 15 locations is one call.
# An item stocked at more locations has the rest read with ITEM_LEVELS.
LEVELS_PER_ITEM = 15
SKUS_PER_STOCK_CALL = (1000 - 2) // (4 + 3 * LEVELS_PER_ITEM)
# Shopify's name for the units that can be sold (InventoryQuantityName)
AVAILABLE = "available"
_LEVEL = f"""
fragment Level on InventoryLevel {{
  location {{ id }}
  quantities(names: ["{AVAILABLE}"]) {{ name quantity }}
}}
"""
STOCK_BY_SKU = f"""
query StockBySku($first: Int!, $query: String!) {{
  productVariants(first: $first, query: $query) {{
    edges {{
      node {{
        sku
        inventoryItem {{
          id
          inventoryLevels(first: {LEVELS_PER_ITEM}) {{
            edges {{ node {{ ...Level }} }}
            pageInfo {{ hasNextPage endCursor }}
          }}
        }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
{_LEVEL}"""

# The rest of one item's levels: item 1 + 2 + 250 x 3 = 753.
LEVELS_PER_ITEM_PAGE = 250
ITEM_LEVELS = f"""
query ItemLevels($id: ID!, $after: String) {{
  inventoryItem(id: $id) {{
    inventoryLevels(first: {LEVELS_PER_ITEM_PAGE}, after: $after) {{
      edges {{ node {{ ...Level }} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
{_LEVEL}"""

# The SKU of each inventory item an inventory_levels/update webhook names: 1 per item;
# `nodes` takes at most 250 ids.
ITEMS_PER_SKU_LOOKUP = 250
ITEM_SKUS = """
query ItemSkus($ids: [ID!]!) {
  nodes(ids: $ids) { __typename ... on InventoryItem { id sku } }
}
"""

# --- returned units back on sale ------------------------------------------------------------

# Each SKU's inventory item, and its level at the store the units come back to: 2 + 200 x
# (variant 1 + item 1 + level 1) = 602.
SKUS_PER_ITEM_LOOKUP = 200
ITEMS_AT_LOCATION = """
query ItemsAtLocation($first: Int!, $query: String!, $location: ID!) {
  productVariants(first: $first, query: $query) {
    edges { node { sku inventoryItem { id inventoryLevel(locationId: $location) { id } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# Units added to `available`, exactly once per key: Shopify's @idempotent directive (required
# for this mutation since 2026-04) answers a retry with the first adjustment. Mutation 10 +
# group 1.
RESTOCK = """
mutation Restock($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""
