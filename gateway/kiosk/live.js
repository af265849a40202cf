// A small graphql-transport-ws client: connection_init / connection_ack, subscribe, next,
// error, complete, and pong for the server's ping. Written here so the page needs no
// bundle and no CDN. After any close it reconnects (1 s, doubling up to 15 s) and
// subscribes every operation again: each subscription's first message carries current
// values, so nothing that changed while the socket was away stays missed.
(function (global) {
  "use strict";

  function LiveClient(url, connectionParams, onStatus) {
    this.url = url;
    this.connectionParams = connectionParams || {};
    this.onStatus = onStatus || function () {};
    this.subscriptions = {};
    this.nextId = 0;
    this.socket = null;
    this.acknowledged = false;
    this.stopped = false;
    this.retryMs = 1000;
    this.connect();
  }

  LiveClient.prototype.connect = function () {
    var client = this;
    var socket = new WebSocket(this.url, "graphql-transport-ws");
    this.socket = socket;
    this.acknowledged = false;
    this.onStatus("connecting");
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: "connection_init", payload: client.connectionParams }));
    };
    socket.onmessage = function (event) {
      if (socket !== client.socket) return;
      client.receive(JSON.parse(event.data));
    };
    socket.onclose = function (event) {
      if (socket !== client.socket) return;
      client.acknowledged = false;
      if (client.stopped) return;
      // 4400/4403 and 4008 (fell behind) alike: come back with fresh state
      client.onStatus("reconnecting", event.code);
      setTimeout(function () {
        if (!client.stopped && socket === client.socket) client.connect();
      }, client.retryMs);
      client.retryMs = Math.min(client.retryMs * 2, 15000);
    };
  };

  LiveClient.prototype.receive = function (message) {
    var subscription = message.id !== undefined ? this.subscriptions[message.id] : null;
    switch (message.type) {
      case "connection_ack":
        this.acknowledged = true;
        this.retryMs = 1000;
        this.onStatus("live");
        for (var id in this.subscriptions) this.sendSubscribe(id);
        break;
      case "ping":
        this.socket.send(JSON.stringify({ type: "pong" }));
        break;
      case "next":
        if (subscription) subscription.onNext(message.payload);
        break;
      case "error":
        if (subscription) {
          delete this.subscriptions[message.id];
          subscription.onError(message.payload);
        }
        break;
      case "complete":
        delete this.subscriptions[message.id];
        break;
    }
  };

  LiveClient.prototype.sendSubscribe = function (id) {
    var subscription = this.subscriptions[id];
    var payload = { query: subscription.query, variables: subscription.variables };
    this.socket.send(JSON.stringify({ id: id, type: "subscribe", payload: payload }));
  };

  // Starts a subscription; returns the function that stops it.
  LiveClient.prototype.subscribe = function (query, variables, onNext, onError) {
    var id = String(++this.nextId);
    this.subscriptions[id] = {
      query: query,
      variables: variables,
      onNext: onNext,
      onError: onError || function () {},
    };
    if (this.acknowledged) this.sendSubscribe(id);
    var client = this;
    return function unsubscribe() {
      if (!client.subscriptions[id]) return;
      delete client.subscriptions[id];
      if (client.acknowledged) client.socket.send(JSON.stringify({ id: id, type: "complete" }));
    };
  };

  LiveClient.prototype.close = function () {
    this.stopped = true;
    if (this.socket) this.socket.close(1000, "closed by the page");
  };

  global.LiveClient = LiveClient;
})(window);
