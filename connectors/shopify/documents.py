"""The GraphQL documents the adapter sends, and the page sizes their cost allows.

Shopify refuses a query whose requested cost exceeds 1,000 points (objects 1, connections
2 + first x node cost, scalars 0), so each page size below is the largest round number
that keeps its document under that cap with headroom; the comment on each gives the sum.
"""

from __future__ import annotations

# Product (1) + featuredMedia (1) + its image (1) = 3 points.
_PRODUCT_FIELDS = """
fragment ProductFields on Product {
  id
  title
  handle
  description
  productType
  vendor
  featuredMedia { ... on MediaImage { image { url } } }
}
"""

# shop 1 + 2 + 200 x (variant 1 + product 3) = 803: one request answers 200 SKUs.
SKUS_PER_REQUEST = 200
PRODUCTS_BY_SKU = (
    """
query ProductsBySku($first: Int!, $after: String, $query: String!) {
  shop { currencyCode }
  productVariants(first: $first, after: $after, query: $query) {
    edges { node { sku price product { ...ProductFields } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + _PRODUCT_FIELDS
)

# shop 1 + 2 + 100 x (product 3 + variants(first: 1) 3) = 603.
PRODUCTS_PER_PAGE = 100
SEARCH_PRODUCTS = (
    """
query SearchProducts($first: Int!, $after: String, $query: String, $sortKey: ProductSortKeys!) {
  shop { currencyCode }
  products(first: $first, after: $after, query: $query, sortKey: $sortKey) {
    edges {
      node {
        ...ProductFields
        variants(first: 1) { edges { node { sku price } } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + _PRODUCT_FIELDS
)

# 2 + 250 x (customer 1 + email 1 + phone 1) = 752.
CUSTOMERS_PER_PAGE = 250
# Terms per query string: a person has few contact details, a page holds their matches.
CONTACTS_PER_REQUEST = 100
FIND_CUSTOMERS = """
query FindCustomers($first: Int!, $after: String, $query: String!) {
  customers(first: $first, after: $after, query: $query) {
    edges {
      node {
        id
        firstName
        lastName
        defaultEmailAddress { emailAddress }
        defaultPhoneNumber { phoneNumber }
        createdAt
        updatedAt
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# Per order: order 1 + totalPriceSet 2 + customer 1 + lineItems (2 + 10 x 3) = 36, and
# the pickup state: customAttributes 1 + fulfillments 1 (a list, not a connection) = 38;
# 2 + 25 x 38 = 952. Orders with more than 10 lines are read with their first 10.
ORDERS_PER_PAGE = 25
LINES_PER_ORDER = 10
# a pickup order has one fulfillment per location it is collected from: one, in practice
FULFILLMENTS_PER_ORDER = 5
CUSTOMER_ORDERS = f"""
query CustomerOrders($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT, reverse: true) {{
    edges {{
      node {{
        id
        name
        createdAt
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

# the payments behind an order: a sale, or an authorisation and its capture
TRANSACTIONS_PER_ORDER = 10
# One order by id, or by its name (the number Shopify shows, `#1001`): the fields
# CUSTOMER_ORDERS reads with every line (a return prices the lines kept, so none may be
# missing; orderCreate takes at most 250) and the payments: order 1 + totalPriceSet 2 +
# customer 1 + customAttributes 1 + fulfillments 1 + transactions 1 + lineItems
# (2 + 250 x 3) = 759, and where a store sale was rung up and by whom: retailLocation 1 +
# staffMember 1 = 761, 763 through `orders(first: 1)`.
LINES_PER_LOOKED_UP_ORDER = 250
_ORDER_FIELDS = f"""
fragment OrderFields on Order {{
  id
  name
  createdAt
  transactions(first: {TRANSACTIONS_PER_ORDER}) {{ id kind status gateway authorizationCode }}
  displayFinancialStatus
  displayFulfillmentStatus
  customAttributes {{ key value }}
  fulfillments(first: {FULFILLMENTS_PER_ORDER}) {{ displayStatus }}
  totalPriceSet {{ shopMoney {{ amount currencyCode }} }}
  customer {{ id }}
  sourceName
  retailLocation {{ id }}
  staffMember {{ name }}
  lineItems(first: {LINES_PER_LOOKED_UP_ORDER}) {{
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
"""
ORDER_BY_ID = (
    """
query OrderById($id: ID!) {
  order(id: $id) { ...OrderFields }
}
"""
    + _ORDER_FIELDS
)
# `name:` is matched exactly; two orders never share a name in one shop
ORDER_BY_NAME = (
    """
query OrderByName($query: String!) {
  orders(first: 1, query: $query) { edges { node { ...OrderFields } } }
}
"""
    + _ORDER_FIELDS
)

# --- refunds ---------------------------------------------------------------------------

# An order's payments, to find the sale a refund refunds: order 1 + transactions 1 = 2.
ORDER_TRANSACTIONS = f"""
query OrderTransactions($id: ID!) {{
  order(id: $id) {{
    id
    transactions(first: {TRANSACTIONS_PER_ORDER}) {{ id kind status gateway authorizationCode }}
  }}
}}
"""

# A refund recorded once per key: Shopify's @idempotent directive answers the first refund
# to a retry. Mutation 10 + refund 1.
REFUND_CREATE = """
mutation RecordRefund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id }
    userErrors { field message }
  }
}
"""

# --- placing orders ---------------------------------------------------------------------

# 2 + 200 x variant 1 = 202: variant ids for a checkout's SKUs, 200 per request.
VARIANT_IDS_BY_SKU = """
query VariantIdsBySku($first: Int!, $after: String, $query: String!) {
  productVariants(first: $first, after: $after, query: $query) {
    edges { node { id sku } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# An order as `orders` reads it, plus the fingerprint of the draft that placed it: order 1 +
# totalPriceSet 2 + customer 1 + metafield 1 + lineItems (2 + $lines x 3). At the 250-line
# maximum that is 757, 759 with the pickup state (customAttributes 1 + fulfillments 1), and
# the mutation adds 10 - 1 for its payload.
MAX_PLACED_LINES = 250
_PLACED_ORDER_FIELDS = """
fragment PlacedOrderFields on Order {
  id
  name
  createdAt
  displayFinancialStatus
  displayFulfillmentStatus
  customAttributes { key value }
  fulfillments(first: 5) { displayStatus }
  totalPriceSet { shopMoney { amount currencyCode } }
  customer { id }
  sourceName
  lineItems(first: $lines) {
    edges {
      node {
        sku
        name
        quantity
        originalUnitPriceSet { shopMoney { amount currencyCode } }
      }
    }
  }
  fingerprint: metafield(namespace: $namespace, key: $fingerprintKey) { value }
}
"""

# The order a checkout key placed, if any: a lookup by custom ID, not a search, so it sees
# an order the moment it exists (the search index behind `orders(query:)` lags).
PLACED_ORDER = (
    """
query PlacedOrder(
  $identifier: OrderIdentifierInput!, $lines: Int!, $namespace: String!, $fingerprintKey: String!
) {
  orderByIdentifier(identifier: $identifier) { ...PlacedOrderFields }
}
"""
    + _PLACED_ORDER_FIELDS
)

PLACE_ORDER = (
    """
mutation PlaceOrder(
  $order: OrderCreateOrderInput!
  $options: OrderCreateOptionsInput
  $lines: Int!
  $namespace: String!
  $fingerprintKey: String!
) {
  orderCreate(order: $order, options: $options) {
    order { ...PlacedOrderFields }
    userErrors { field message code }
  }
}
"""
    + _PLACED_ORDER_FIELDS
)
