// Boots GraphiQL against this gateway. Kept out of index.html so the page needs no inline
// script and runs under a strict Content-Security-Policy.
(function () {
  var origin = window.location.origin;
  // Subscriptions go over the same /graphql path as a websocket (graphql-transport-ws);
  // GraphiQL sends the headers pane's JSON as connection_init's payload, which is where
  // the gateway reads "authorization" (and "handoffToken", "cartToken") on a socket.
  var fetcher = GraphiQL.createFetcher({
    url: origin + "/graphql",
    subscriptionUrl: origin.replace(/^http/, "ws") + "/graphql",
  });
  var TOKEN = "curl -s localhost:8104/dev/token -d '{\"kind\": ";

  function tab(lines, variables) {
    return { query: lines.join("\n") + "\n", variables: variables || "" };
  }

  // One tab per principal (docs/security.md "Principals"). A token goes in the headers pane
  // as {"authorization": "Bearer <jwt>"}; the sandbox IdP issues them (`make run`: :8104).
  var tabs = [
    tab([
      "# Welcome to omnigate: one graph over POS, e-commerce, inventory and CRM.",
      "# Anyone (and a shopper): the catalog, with stock online and per store.",
      "query FirstProducts {",
      "  products(first: 5) {",
      "    edges {",
      "      node {",
      "        sku",
      "        name",
      "        price { amount currency }",
      "        availability {",
      "          online { quantity }",
      "          stores(first: 3) { store { name } quantity }",
      "        }",
      "      }",
      "    }",
      "  }",
      "}",
    ]),
    tab(
      [
        "# Shopper: a customer token in the headers pane,",
        "#   " + TOKEN + "\"customer\", \"subject\": \"<CRM contact id>\"}'",
        "# then her cart, and live changes to it (run MyCart first, paste its id),",
        "# and one of her orders as it is paid, refunded, readied for pickup.",
        "query MyCart {",
        "  me { givenName loyalty { balance tier } orders(first: 3) { edges { node { id } } } }",
        "  cart { id totalQuantity lines { sku quantity } }",
        "  wishlist { items { sku } }",
        "}",
        "",
        "subscription WatchCart($cartId: ID!) {",
        "  cartUpdated(cartId: $cartId) { version totalQuantity lines { sku quantity } }",
        "}",
        "",
        "subscription WatchOrder($orderId: ID!) {",
        "  orderChanged(id: $orderId) { paymentStatus fulfillmentStatus pickupStatus }",
        "}",
      ],
      '{"cartId": "<cart id from MyCart>", "orderId": "<order id from MyCart>"}'
    ),
    tab(
      [
        "# Staff: a staff token (scoped to a store),",
        "#   " + TOKEN + "\"staff\", \"store_id\": \"<store id>\", \"subject\": \"emp-1\"}'",
        "# reads any customer; every read is audited.",
        "query Customer($id: ID!) {",
        "  customer(id: $id) {",
        "    givenName familyName email phone",
        "    loyalty { balance tier }",
        "    orders(first: 5) { edges { node { id } } }",
        "  }",
        "}",
      ],
      '{"id": "<CRM contact id>"}'
    ),
    tab(
      [
        "# Display: an in-store screen's token reads products, stock, stores and offers,",
        "#   " + TOKEN + "\"display\", \"store_id\": \"<store id>\", \"subject\": \"screen-1\"}'",
        "# and follows its own store's stock live (anyone may, without a token).",
        "subscription ShelfStock($storeId: ID, $skus: [ID!]) {",
        "  stockChanged(storeId: $storeId, skus: $skus) { storeId levels { sku quantity inStock } }",
        "}",
        "",
        "subscription Prices($skus: [ID!]!) {",
        "  productChanged(skus: $skus) { products { sku name price { amount currency } } }",
        "}",
      ],
      '{"storeId": "<store id>", "skus": ["<sku>"]}'
    ),
    tab([
      "# Developer: a developer token may discover the schema in production,",
      "#   " + TOKEN + "\"developer\", \"subject\": \"dev-1\"}'",
      "# and otherwise reaches what anyone does.",
      "query Schema {",
      "  __schema { subscriptionType { fields { name description } } }",
      "  stores { id name }",
      "}",
    ]),
  ];
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: tabs,
      defaultEditorToolsVisibility: true,
    })
  );
})();
