// Boots GraphiQL against this gateway. Kept out of index.html so the page needs no inline
// script and runs under a strict Content-Security-Policy.
(function () {
  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + "/graphql" });
  var defaultQuery = [
    "# Welcome to omnigate: one graph over POS, e-commerce, inventory and CRM.",
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
    "",
  ].join("\n");
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: true,
    })
  );
})();
