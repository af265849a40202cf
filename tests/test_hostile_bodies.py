"""Hostile bodies get a 4xx with a stable code (or a 4400 close), never a 500 nor a dropped
socket: JSON nested about a thousand levels deep, bodies that are not UTF-8, malformed
websocket messages, and `_entities` representations that name no entity.

Each of these was a 500 (or a socket dropped without a close frame) before the JSON depth
bound (gateway/limits/json_body.py), the websocket message checks
(gateway/limits/socket_messages.py) and the representation checks (resolvers/entities.py).
tests/test_fuzz_schema.py generates thousands more of them (make test-fuzz).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from conftest import GatewayClient, running_gateway, sandbox_settings
from test_auth_websocket import ack, closed_with, connection, run, served
from websockets.exceptions import ConnectionClosed

UPSTREAMS = ("square", "shopify", "salesforce")
PREFLIGHT = {"apollo-require-preflight": "true"}
THOUSAND_DEEP = "[" * 1000 + "]" * 1000
# past orjson's own limit (1024 levels): refused as too deep all the same
TWO_THOUSAND_DEEP = "[" * 2000 + "]" * 2000
ENTITIES = (
    "query($r: [_Any!]!) { _entities(representations: $r) {"
    " __typename ... on Product { sku name } ... on Store { id name } } }"
)


@pytest.fixture(scope="module")
async def gateway(mongod, sandbox) -> AsyncIterator[GatewayClient]:
    """One gateway (and database) for the module, rather than one per test: nothing here
    reads back what another test wrote, and every database adds files the session's mongod
    holds open."""
    async with running_gateway(sandbox_settings(mongod, sandbox)) as client:
        yield client


@pytest.fixture(autouse=True)
def _upstream_calls_counted_per_test(sandbox) -> None:
    sandbox.reset_calls()


def nested(depth: int) -> str:
    """A JSON value of `depth` levels of arrays."""
    return "[" * depth + "]" * depth


def operation(field: str, raw: str, query: str = "{ __typename }") -> str:
    """A JSON body with `query` and `field` holding the raw JSON text `raw`."""
    return '{"query": "' + query + '", "' + field + '": ' + raw + "}"


def under_x(raw: str) -> str:
    return '{"x": ' + raw + "}"


def _code(response) -> str:
    [error] = response.json()["errors"]
    return str(error["extensions"]["code"])


def _no_upstream_calls(sandbox) -> bool:
    return all(sandbox.total_calls(vendor) == 0 for vendor in UPSTREAMS)


async def _post(gateway, body: bytes, accept: str = "application/json"):
    return await gateway.http.post(
        "/graphql", content=body, headers={"content-type": "application/json", "accept": accept}
    )


# --- deep JSON over HTTP


@pytest.mark.parametrize(
    "body",
    [
        operation("variables", under_x(THOUSAND_DEEP)),
        operation("variables", '{"a": ' * 1000 + "1" + "}" * 1000),
        operation("extensions", under_x(THOUSAND_DEEP)),
        THOUSAND_DEEP,
        operation("extensions", under_x(TWO_THOUSAND_DEEP)),
    ],
    ids=["variables", "variables-objects", "extensions", "bare-list", "past-orjson-limit"],
)
@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_a_deeply_nested_post_body_is_refused_400(gateway, sandbox, body, accept):
    response = await _post(gateway, body.encode(), accept)
    assert response.status_code == 400, response.text
    assert _code(response) == "JSON_TOO_DEEP"
    assert "max_json_depth" in response.json()["errors"][0]["message"]
    assert response.headers["content-type"].startswith(accept)
    assert _no_upstream_calls(sandbox)


@pytest.mark.parametrize("parameter", ["variables", "extensions"])
async def test_a_deeply_nested_get_parameter_is_refused_400(gateway, sandbox, parameter):
    params = {"query": "{ __typename }", parameter: under_x(THOUSAND_DEEP)}
    response = await gateway.http.get("/graphql", params=params, headers=PREFLIGHT)
    assert response.status_code == 400, response.text
    assert _code(response) == "JSON_TOO_DEEP"
    assert _no_upstream_calls(sandbox)


async def test_nesting_up_to_the_limit_passes_and_one_level_more_is_refused(gateway):
    # the body's object is level 1, `extensions` 2, so `x` may hold 30 levels under 32
    at_limit = operation("extensions", under_x(nested(30)))
    response = await _post(gateway, at_limit.encode())
    assert response.json() == {"data": {"__typename": "Query"}}
    over = operation("extensions", under_x(nested(31)))
    response = await _post(gateway, over.encode())
    assert response.status_code == 400
    assert _code(response) == "JSON_TOO_DEEP"


async def test_the_depth_limit_is_a_setting(settings, make_gateway):
    body = operation("extensions", under_x(nested(3)))
    async with make_gateway(settings.with_changes(limits={"max_json_depth": 4})) as gateway:
        response = await _post(gateway, body.encode())
        assert response.status_code == 400
        assert "deeper than 4 levels" in response.json()["errors"][0]["message"]


# --- bodies that are not JSON a client could mean


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ __typename }", "x": "\xff\xfe"}',  # not UTF-8
        b'{"query": "{ __typename \xc3 }"}',  # a truncated UTF-8 sequence in the query
        b'{"query": "{ product(sku: \\"\\ud800\\") { sku } }"}',  # an escaped lone surrogate
        b'{"query": "{ __typename }", "variables": {"n": 1' + b"0" * 5000 + b"}}",
        b'{"query": "{ __typename }", "variables": {"n": NaN}}',
        b'{"query": "{ __typename }"',  # truncated
    ],
    ids=["latin-1", "truncated-utf8", "lone-surrogate", "5000-digits", "nan", "truncated"],
)
async def test_a_body_that_is_not_json_is_refused_400(gateway, sandbox, body):
    response = await _post(gateway, body)
    assert response.status_code == 400, response.text
    assert _code(response) == "BAD_REQUEST"
    assert response.json()["errors"][0]["message"].startswith("Unable to parse request body")
    assert _no_upstream_calls(sandbox)


@pytest.mark.parametrize("body", [b'"{ __typename }"', b"1.5", b"true", b"null"])
async def test_a_body_that_is_json_but_no_object_is_refused_400(gateway, body):
    response = await _post(gateway, body)
    assert response.status_code == 400, response.text
    assert _code(response) == "BAD_REQUEST"
    assert response.json()["errors"][0]["message"] == "The request body must be a JSON object."


async def test_a_get_parameter_that_is_not_json_is_refused_400(gateway):
    params = {"query": "{ __typename }", "variables": '{"s": "\\ud800"}'}
    response = await gateway.http.get("/graphql", params=params, headers=PREFLIGHT)
    assert response.status_code == 400
    assert _code(response) == "BAD_REQUEST"


# --- websockets


async def _closed_after(url: str, frame: str, protocol: str = "graphql-transport-ws"):
    async with websockets.connect(url, subprotocols=[protocol]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        await ack(socket)
        await socket.send(frame)
        return await closed_with(socket)


def _subscribe(payload: Any, operation_id: Any = "1") -> str:
    return json.dumps({"id": operation_id, "type": "subscribe", "payload": payload})


def _subscribe_raw(payload: str, kind: str = "subscribe") -> str:
    return '{"id": "1", "type": "' + kind + '", "payload": ' + payload + "}"


@pytest.fixture(scope="module")
async def socket_url(sandbox, mongod):
    async with served(sandbox_settings(mongod, sandbox)) as url:
        yield url


@pytest.mark.parametrize(
    "frame",
    [
        _subscribe_raw(operation("variables", under_x(THOUSAND_DEEP), "subscription { x }")),
        _subscribe_raw(operation("extensions", under_x(THOUSAND_DEEP))),
        THOUSAND_DEEP,
        TWO_THOUSAND_DEEP,
    ],
    ids=["variables", "extensions", "bare-list", "past-orjson-limit"],
)
async def test_a_deeply_nested_websocket_message_closes_4400(socket_url, frame):
    code, reason = await _closed_after(socket_url, frame)
    assert code == 4400
    assert "max_json_depth" in reason


async def test_a_deeply_nested_message_closes_a_legacy_graphql_ws_socket_too(socket_url):
    frame = _subscribe_raw(operation("variables", under_x(THOUSAND_DEEP)), "start")
    code, reason = await _closed_after(socket_url, frame, "graphql-ws")
    assert (code, "max_json_depth" in reason) == (4400, True)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("[1, 2]", "A message must be a JSON object."),
        ("5", "A message must be a JSON object."),
        ('{"type": 5}', "A message's `type` must be a string."),
        (_subscribe({"query": "{ __typename }"}, operation_id=1), "`id` must be a string"),
        (_subscribe({"query": "{ __typename }"}, operation_id=[1]), "`id` must be a string"),
        ('{"type": "complete", "id": {"a": 1}}', "`id` must be a string"),
        (_subscribe([1]), "`payload` must be an object"),
        (_subscribe({"query": 5}), "`query` must be a string"),
        (_subscribe({"query": "{ __typename }", "variables": [1]}), "`variables` must be"),
        (_subscribe({"query": "{ __typename }", "extensions": "x"}), "`extensions` must be"),
        (_subscribe({"query": "{ __typename }", "operationName": 1}), "`operationName` must"),
        (_subscribe({}), "has no `query`"),
        (_subscribe({"query": ""}), "has no `query`"),
    ],
)
async def test_a_malformed_websocket_message_closes_4400_with_the_reason(socket_url, frame, reason):
    code, why = await _closed_after(socket_url, frame)
    assert code == 4400
    assert reason in why


async def test_a_close_reason_echoing_a_long_value_is_cut_to_fit_the_frame(socket_url):
    # RFC 6455 leaves 123 bytes for the reason; Strawberry's echo the message's type
    code, reason = await _closed_after(socket_url, json.dumps({"type": "é" * 300}))
    assert code == 4400
    assert reason.startswith("Unknown message type: éé")
    assert len(reason.encode()) <= 123


async def test_the_socket_still_runs_good_operations(socket_url):
    async with connection(socket_url, {}) as socket:
        await ack(socket)
        assert await run(socket, "{ __typename }") == {"data": {"__typename": "Query"}}


async def test_a_malformed_legacy_graphql_ws_message_closes_4400(socket_url):
    frame = json.dumps({"type": "start", "id": "1", "payload": 5})
    code, reason = await _closed_after(socket_url, frame, "graphql-ws")
    assert (code, reason) == (4400, "The operation's `payload` must be an object.")


async def test_a_query_over_legacy_graphql_ws_is_a_bad_request_not_an_internal_error(
    socket_url,
):
    # Strawberry serves only subscriptions there; the refusal was masked as internal
    async with websockets.connect(socket_url, subprotocols=["graphql-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        await ack(socket)
        for operation_id, query in (("q", "{ __typename }"), ("m", "mutation { x }")):
            await socket.send(
                json.dumps({"type": "start", "id": operation_id, "payload": {"query": query}})
            )
            answer = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert answer["type"] == "error", answer
            assert answer["payload"]["extensions"] == {"code": "BAD_REQUEST"}
            assert answer["payload"]["message"].endswith("are not allowed")


async def _read_until_closed(socket) -> None:
    while True:
        await asyncio.wait_for(socket.recv(), 10)


@pytest.mark.parametrize("operation", ["subscription", "query"])
async def test_an_operation_ended_over_graphql_ws_logs_no_error(socket_url, caplog, operation):
    # Strawberry's graphql-ws handler drops a refused operation's stream without closing
    # it; the event loop closes it later in a context of its own, where the engine's
    # extension could not restore its context variable: "Task exception was never
    # retrieved" in the log. A stopped subscription is closed by the handler's own task.
    create = "mutation { cartCreate { cart { id } cartToken } }"
    async with httpx.AsyncClient(trust_env=False) as http:
        created = await http.post(socket_url.replace("ws://", "http://"), json={"query": create})
    payload = created.json()["data"]["cartCreate"]
    document = {
        "subscription": "subscription($id: ID!) { cartUpdated(cartId: $id) { id } }",
        "query": "query($id: ID!) { cart(id: $id) { id } }",
    }[operation]
    async with websockets.connect(socket_url, subprotocols=["graphql-ws"]) as socket:
        init = {"type": "connection_init", "payload": {"cartToken": payload["cartToken"]}}
        await socket.send(json.dumps(init))
        await ack(socket)
        start = {"query": document, "variables": {"id": payload["cart"]["id"]}}
        await socket.send(json.dumps({"type": "start", "id": "s", "payload": start}))
        first = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert first["type"] == ("data" if operation == "subscription" else "error"), first
        await socket.send(json.dumps({"type": "stop", "id": "s"}))
        await socket.send(json.dumps({"type": "connection_terminate"}))
        with pytest.raises(ConnectionClosed):
            await _read_until_closed(socket)
    await asyncio.sleep(0.2)  # the server finishes its side
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


# --- _entities


async def test_each_bad_representation_is_bad_user_input_at_its_index(gateway, dataset, sandbox):
    product = dataset.products[0]
    store = dataset.stores[0]
    representations: list[Any] = [
        {"__typename": "Product", "sku": product.sku},
        7,  # not an object
        "Product",
        [{"__typename": "Product", "sku": product.sku}],
        {"sku": product.sku},  # no __typename
        {"__typename": 5, "sku": product.sku},
        {"__typename": "Nope", "sku": product.sku},  # an unknown type
        {"__typename": "Cart", "id": "x"},  # a type that is no entity
        {"__typename": "Query"},
        {"__typename": "Product"},  # no key field
        {"__typename": "Product", "sku": None},
        {"__typename": "Product", "sku": {"a": 1}},
        {"__typename": "Product", "sku": True},
        {"__typename": "Product", "sku": product.sku, "price": 1},  # not its key
        {"__typename": "Store", "id": store.id},
    ]
    body = await gateway.query(ENTITIES, {"r": representations})
    entities = body["data"]["_entities"]
    assert entities[0] == {"__typename": "Product", "sku": product.sku, "name": product.title}
    assert entities[-1] == {"__typename": "Store", "id": store.id, "name": store.name}
    assert entities[1:-1] == [None] * (len(representations) - 2)
    errors = {tuple(error["path"]): error for error in body["errors"]}
    assert sorted(errors) == [("_entities", index) for index in range(1, len(representations) - 1)]
    for index, error in enumerate(body["errors"], start=1):
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["message"].startswith(f"representations[{index}]: ")


async def test_an_integer_key_reads_as_the_id_it_is(gateway, dataset):
    store = dataset.stores[0]
    body = await gateway.query(ENTITIES, {"r": [{"__typename": "Product", "sku": 12}]})
    assert body == {"data": {"_entities": [None]}}  # no product has SKU "12"; no error
    body = await gateway.query(ENTITIES, {"r": [{"__typename": "Store", "id": store.id}]})
    assert body["data"]["_entities"][0]["id"] == store.id


async def test_bad_representations_as_literals_too(gateway):
    document = '{ _entities(representations: [1, {__typename: "Product"}]) { __typename } }'
    body = await gateway.query(document)
    assert body["data"] == {"_entities": [None, None]}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"] * 2


def test_entity_keys_are_read_from_the_schema():
    from gateway.wiring.schema import build_schema

    schema = build_schema()
    assert schema._entity_keys == {  # type: ignore[attr-defined]
        "Customer": frozenset({"id"}),
        "Product": frozenset({"sku"}),
        "Store": frozenset({"id"}),
    }
