// The reference in-store page (docs/kiosk.md): one store's kiosk or display. Open it as
// /kiosk?store=<store id>#token=<device JWT>. The token stays in the fragment, which the
// browser never sends, and is optional: products, stock and stores are public; a customer's
// hand-off needs a kiosk token. Everything shown is written with textContent, never parsed
// as HTML.
(function () {
  "use strict";

  var storeId = new URLSearchParams(window.location.search).get("store");
  var deviceToken = new URLSearchParams(window.location.hash.slice(1)).get("token");
  var handoffToken = null;
  var here = null; // this store, with its coordinates
  var stopLive = [];
  var wsUrl = window.location.origin.replace(/^http/, "ws") + "/graphql";
  var live = null;

  var PRODUCT_FIELDS = "sku name price { amount currency }";
  var STOCK_CHANGED =
    "subscription KioskStock($storeId: ID, $skus: [ID!]) {" +
    " stockChanged(storeId: $storeId, skus: $skus) { storeId levels { sku quantity } } }";
  var PRODUCT_CHANGED =
    "subscription KioskProduct($skus: [ID!]!) {" +
    " productChanged(skus: $skus) { products { " + PRODUCT_FIELDS + " } } }";

  // The token's role, read without verifying (the gateway verifies it on every request):
  // only to offer the hand-off on a kiosk, which is the one device a hand-off is for.
  function tokenRole(token) {
    try {
      var claims = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(window.atob(claims)).role;
    } catch (error) {
      return null;
    }
  }

  function $(id) {
    return document.getElementById(id);
  }

  function credentials() {
    var headers = {};
    if (deviceToken) headers.authorization = "Bearer " + deviceToken;
    if (handoffToken) headers["x-handoff-token"] = handoffToken;
    return headers;
  }

  function gql(query, variables) {
    var headers = credentials();
    headers["content-type"] = "application/json";
    headers.accept = "application/graphql-response+json, application/json";
    return fetch("/graphql", {
      method: "POST",
      headers: headers,
      body: JSON.stringify({ query: query, variables: variables || {} }),
    }).then(function (response) {
      return response.json();
    });
  }

  function firstError(body) {
    var error = body.errors && body.errors[0];
    if (!error) return null;
    return (error.extensions && error.extensions.code) || error.message;
  }

  function money(price) {
    return price.amount + " " + price.currency;
  }

  function say(text) {
    $("message").textContent = text;
  }

  function setText(element, text) {
    if (element.textContent === String(text)) return;
    element.textContent = text;
    element.classList.remove("changed");
    void element.offsetWidth; // restart the flash
    element.classList.add("changed");
  }

  function clear(element) {
    while (element.firstChild) element.removeChild(element.firstChild);
  }

  function item(list, text) {
    var li = document.createElement("li");
    li.textContent = text;
    list.appendChild(li);
    return li;
  }

  // --- no store chosen: list them -------------------------------------------------------
  function chooseStore() {
    $("stores").hidden = false;
    gql("query KioskStores { stores { id name } }").then(function (body) {
      var list = $("store-list");
      (body.data ? body.data.stores : []).forEach(function (store) {
        var link = document.createElement("a");
        link.href = "?store=" + encodeURIComponent(store.id) + window.location.hash;
        link.textContent = store.name;
        item(list, "").appendChild(link);
      });
    });
  }

  // --- looking a product up -------------------------------------------------------------
  function lookUp(text) {
    clear($("matches"));
    say("Looking up " + text + "…");
    gql("query KioskSku($sku: ID!) { product(sku: $sku) { sku } }", { sku: text })
      .then(function (body) {
        if (body.data && body.data.product) return show(body.data.product.sku);
        return gql(
          "query KioskSearch($q: String) { products(query: $q, first: 5) { nodes { " +
            PRODUCT_FIELDS + " } } }",
          { q: text }
        ).then(function (found) {
          var nodes = found.data ? found.data.products.nodes : [];
          if (nodes.length === 0) return say(firstError(found) || "Nothing matches " + text + ".");
          if (nodes.length === 1) return show(nodes[0].sku);
          say(nodes.length + " products match: choose one.");
          nodes.forEach(function (product) {
            var button = document.createElement("button");
            button.type = "button";
            button.textContent = product.name + " · " + money(product.price);
            button.addEventListener("click", function () {
              show(product.sku);
            });
            item($("matches"), "").appendChild(button);
          });
        });
      })
      .catch(function () {
        say("The gateway could not be reached.");
      });
  }

  function show(sku) {
    clear($("matches"));
    stopLive.forEach(function (stop) {
      stop();
    });
    stopLive = [];
    var query =
      "query KioskProduct($sku: ID!, $store: ID!) { product(sku: $sku) { " + PRODUCT_FIELDS +
      " } store(id: $store) { stock(skus: [$sku]) { quantity } } }";
    return gql(query, { sku: sku, store: storeId }).then(function (body) {
      var product = body.data && body.data.product;
      if (!product) return say(firstError(body) || "No product " + sku + ".");
      say("");
      $("product").hidden = false;
      $("product").dataset.sku = sku;
      $("product-sku").textContent = product.sku;
      $("product-name").textContent = product.name;
      $("product-price").textContent = money(product.price);
      var stock = body.data.store && body.data.store.stock[0];
      $("stock-here").textContent = stock ? stock.quantity : "unknown";
      delete $("stock-here").dataset.live; // until this product's first live message
      follow(storeId, sku, $("stock-here"));
      stopLive.push(
        live.subscribe(PRODUCT_CHANGED, { skus: [sku] }, function (payload) {
          var changed = payload.data && payload.data.productChanged.products[0];
          if (!changed) return;
          setText($("product-name"), changed.name);
          setText($("product-price"), money(changed.price));
        })
      );
      return showNearby(sku);
    });
  }

  // Follows one store's stock of `sku` into `cell`: the first message is the count now.
  // A refusal (a display follows its own store only) arrives as a `next` carrying errors,
  // since the resolver checks when the stream starts, or as an `error` message.
  function follow(store, sku, cell) {
    function notLive() {
      delete cell.dataset.live;
      cell.title = "not live";
    }
    stopLive.push(
      live.subscribe(
        STOCK_CHANGED,
        { storeId: store, skus: [sku] },
        function (payload) {
          if (!payload.data) return notLive();
          cell.dataset.live = "true";
          payload.data.stockChanged.levels.forEach(function (level) {
            if (level.sku === sku) setText(cell, level.quantity);
          });
        },
        notLive
      )
    );
  }

  function showNearby(sku) {
    var body = $("nearby").tBodies[0];
    clear(body);
    if (!here || here.latitude === null || here.longitude === null) return;
    var query =
      "query KioskNearby($near: GeoPointInput!, $sku: ID!) {" +
      " stores(near: $near, withStock: [$sku]) { id name distanceKm stock(skus: [$sku]) { quantity } } }";
    var near = { latitude: here.latitude, longitude: here.longitude };
    return gql(query, { near: near, sku: sku }).then(function (answer) {
      var stores = (answer.data ? answer.data.stores : []).filter(function (store) {
        return store.id !== storeId;
      });
      stores.slice(0, 3).forEach(function (store) {
        var row = body.insertRow();
        row.dataset.store = store.id;
        row.insertCell().textContent = store.name;
        row.insertCell().textContent = store.distanceKm.toFixed(1);
        var cell = row.insertCell();
        cell.textContent = store.stock[0].quantity;
        follow(store.id, sku, cell);
      });
      if (stores.length === 0) body.insertRow().insertCell().textContent = "none nearby";
    });
  }

  // --- a customer's hand-off ------------------------------------------------------------
  var CUSTOMER =
    "query KioskCustomer { me { givenName loyalty { balance tier } }" +
    " cart { totalQuantity lines { sku quantity product { name } } }" +
    " wishlist { items { sku product { " + PRODUCT_FIELDS + " } } } }";

  function openHandoff(code) {
    handoffToken = code;
    gql(CUSTOMER).then(function (body) {
      if (!body.data || !body.data.me) {
        handoffToken = null;
        $("customer-view").hidden = true;
        say("Hand-off not accepted (" + (firstError(body) || "no customer") + ").");
        return;
      }
      var data = body.data;
      $("customer-name").textContent = data.me.givenName || "";
      $("customer-points").textContent = data.me.loyalty
        ? "· " + data.me.loyalty.balance + " points (" + data.me.loyalty.tier + ")"
        : "";
      var lines = $("cart-lines");
      clear(lines);
      (data.cart ? data.cart.lines : []).forEach(function (line) {
        item(lines, line.quantity + " × " + (line.product ? line.product.name : line.sku));
      });
      if (!lines.firstChild) item(lines, "empty");
      var wishes = $("wishlist-items");
      clear(wishes);
      (data.wishlist ? data.wishlist.items : []).forEach(function (wish) {
        var product = wish.product;
        item(wishes, product ? product.name + " · " + money(product.price) : wish.sku);
      });
      if (!wishes.firstChild) item(wishes, "empty");
      $("handoff").hidden = true;
      $("customer-view").hidden = false;
    });
  }

  function endHandoff() {
    handoffToken = null;
    $("customer-view").hidden = true;
    $("handoff").hidden = false;
    $("handoff-code").value = "";
  }

  // --- start ----------------------------------------------------------------------------
  function start() {
    var params = deviceToken ? { authorization: "Bearer " + deviceToken } : {};
    live = new window.LiveClient(wsUrl, params, function (state) {
      $("live-status").dataset.state = state;
      $("live-status").textContent = state;
    });
    if (!storeId) return chooseStore();
    gql("query KioskStore($id: ID!) { store(id: $id) { id name latitude longitude } }", {
      id: storeId,
    }).then(function (body) {
      here = body.data && body.data.store;
      if (!here) {
        $("store-name").textContent = "Unknown store " + storeId;
        return chooseStore();
      }
      $("store-name").textContent = here.name;
      $("lookup").hidden = false;
      $("customer").hidden = !deviceToken || tokenRole(deviceToken) !== "kiosk";
    });
    $("search").addEventListener("submit", function (event) {
      event.preventDefault();
      var text = $("query").value.trim();
      if (text) lookUp(text);
    });
    $("handoff").addEventListener("submit", function (event) {
      event.preventDefault();
      var code = $("handoff-code").value.trim();
      if (code) openHandoff(code);
    });
    $("handoff-end").addEventListener("click", endHandoff);
  }

  start();
})();
