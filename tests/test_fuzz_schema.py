"""Thousands of generated operations, bodies and websocket messages: never a 5xx, never
INTERNAL_SERVER_ERROR, never a socket dropped without a close frame (make test-fuzz).

- the whole schema: hypothesis-graphql writes queries and mutations from the schema itself,
  valid ones and ones with one schema violation, `_entities` included with any `_Any` value
  (entity references, real or not, and arbitrary JSON), sent by POST or GET, by nobody, a
  customer, staff, a kiosk or a developer;
- malformed HTTP requests: bytes, JSON of every shape, JSON nested up to 1,200 levels, valid
  bodies truncated, with a byte flipped or bytes that are not UTF-8, numbers JSON cannot
  carry, any content type, GET parameters of any text;
- websocket messages, graphql-transport-ws and graphql-ws: any JSON, messages of the right
  type with fields of any type, deep nesting, text that is not JSON, binary frames.

The gateway runs under uvicorn in a thread of its own, as deployed, so an exception escaping
the app is the 500 (or the dropped socket) it becomes. Each test prints its figures; run
`pytest -m fuzz -rP` to see them. tests/test_hostile_bodies.py holds each hole found.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import graphql
import httpx
import pytest
import websockets
from conftest import Sandbox, Tokens, bearer, sandbox_settings
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema
from live_server import serving
from websockets.exceptions import ConnectionClosed

from gateway.app import create_app
from gateway.local_mongod import LocalMongod
from gateway.wiring.schema import build_schema
from sandbox.dataset import Dataset

pytestmark = pytest.mark.fuzz

SCHEMA_EXAMPLES = 1500
BODY_EXAMPLES = 2500
SOCKET_EXAMPLES = 500
FUZZ_SETTINGS = hypothesis_settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# close codes a client may be given: normal, the legacy protocol's non-text refusal, a frame
# that is not UTF-8 (the server's websocket layer), and graphql-transport-ws's 44xx. 1011
# (internal error) and no close frame at all are failures.
ACCEPTED_CLOSE_CODES = {1000, 1002, 1007, 4400, 4401, 4403, 4406, 4408, 4409, 4429}
ENTITY_KEYS = {"Product": "sku", "Store": "id", "Customer": "id"}


@dataclass
class Figures:
    """What a fuzz test sent and what came back."""

    name: str
    cases: int = 0
    statuses: Counter[int | str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    # what the cases held, for the figures: `_entities`, mutations, GETs
    held: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        server_errors = sum(n for s, n in self.statuses.items() if isinstance(s, int) and s >= 500)
        return (
            f"{self.name}: {self.cases} cases in {time.monotonic() - self.started:.0f} s, "
            f"{server_errors} answered 5xx, {self.codes['INTERNAL_SERVER_ERROR']} "
            f"INTERNAL_SERVER_ERROR; answers {dict(sorted(self.statuses.items(), key=str))}; "
            f"codes {dict(self.codes.most_common(12))}"
            + (f"; cases with {dict(self.held)}" if self.held else "")
        )


def error_codes(payload: Any) -> list[str]:
    """The `extensions.code` of each error in a GraphQL answer (or a websocket payload)."""
    if isinstance(payload, dict) and "message" in payload:  # graphql-ws's `error`: one
        payload = [payload]
    errors = payload if isinstance(payload, list) else (payload or {}).get("errors") or []
    return [str((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e, dict)]


def no_logged_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the gateway logged at ERROR (a trace of an unexpected failure): none expected."""
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR
    ]


def check_answer(figures: Figures, response: httpx.Response) -> None:
    figures.cases += 1
    figures.statuses[response.status_code] += 1
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if "json" not in response.headers.get("content-type", ""):
        return  # GraphiQL's page, the router's plain-text 405
    codes = error_codes(response.json())
    figures.codes.update(codes)
    assert "INTERNAL_SERVER_ERROR" not in codes, response.text[:1000]


# --- strategies

NAMES = st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,10}", fullmatch=True)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)


def json_values(names: st.SearchStrategy[str] = NAMES) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(names, children, max_size=4)
        ),
        max_leaves=12,
    )


def references(dataset: Dataset) -> st.SearchStrategy[dict[str, Any]]:
    """Entity references a router would send, and near misses: another or no type, a key
    missing, another field, a key of any JSON type."""
    known = {
        "Product": [p.sku for p in dataset.products[:5]],
        "Store": [s.id for s in dataset.stores[:3]],
        "Customer": [c.id for c in dataset.crm_contacts[:3]],
    }
    typenames = st.sampled_from([*ENTITY_KEYS, "Cart", "Query", "String", "Nope"]) | NAMES

    @st.composite
    def reference(draw: st.DrawFn) -> dict[str, Any]:
        typename = draw(typenames)
        value: Any = draw(
            st.sampled_from(known.get(typename) or ["x"]) | st.text(max_size=12) | json_values()
        )
        body = {"__typename": typename, draw(st.sampled_from([*set(ENTITY_KEYS.values())])): value}
        if draw(st.integers(0, 9)) == 0:
            body.pop("__typename")
        if draw(st.integers(0, 9)) == 0:
            body[draw(NAMES)] = draw(json_values())
        return body

    return reference()


def value_node(value: Any) -> graphql.ValueNode:
    """A GraphQL literal for a JSON value."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return graphql.IntValueNode(value=str(value))
    if isinstance(value, float):
        return graphql.FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return graphql.StringValueNode(value=value)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(value_node(item) for item in value))
    return graphql.ObjectValueNode(
        fields=tuple(
            graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value_node(item))
            for name, item in value.items()
        )
    )


def any_values(dataset: Dataset) -> st.SearchStrategy[graphql.ValueNode]:
    """Federation `_Any`: references (most often) or any JSON value at all."""
    return st.one_of(references(dataset), references(dataset), json_values()).map(value_node)


# --- the gateway and who asks


@dataclass
class Served:
    url: str
    principals: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def served(mongod: LocalMongod, sandbox: Sandbox, dataset: Dataset) -> Iterator[Served]:
    tokens = Tokens(sandbox)
    store = dataset.stores[0].id
    principals = {
        "nobody": {},
        "customer": bearer(tokens.customer(dataset.crm_contacts[0].id)),
        "staff": bearer(tokens.staff(store)),
        "kiosk": bearer(tokens.kiosk(store)),
        "developer": bearer(tokens.developer()),
    }
    with serving(create_app(sandbox_settings(mongod, sandbox))) as url:
        yield Served(url, principals)


# --- the whole schema


def test_generated_operations_over_the_whole_schema_never_get_a_5xx(
    served: Served, dataset: Dataset, caplog: pytest.LogCaptureFixture
) -> None:
    schema = build_schema()._schema  # the printed SDL's schema, `_entities` and `_service` too
    scalars = {"_Any": any_values(dataset)}
    valid = from_schema(schema, custom_scalars=scalars)
    invalid = from_schema(schema, custom_scalars=scalars, mode=Mode.NEGATIVE)
    figures = Figures("schema")
    with httpx.Client(base_url=served.url, timeout=30, trust_env=False) as client:

        @hypothesis_settings(FUZZ_SETTINGS, max_examples=SCHEMA_EXAMPLES)
        @given(
            document=st.one_of(valid, valid, valid, invalid),
            who=st.sampled_from(sorted(served.principals)),
            by_get=st.integers(0, 4).map(lambda n: n == 0),
            accept=st.sampled_from(["application/json", "application/graphql-response+json"]),
        )
        def check(document: str, who: str, by_get: bool, accept: str) -> None:
            headers = {**served.principals[who], "accept": accept}
            note(f"document: {document}")
            figures.held.update(
                name
                for name, held in (
                    ("_entities", "_entities" in document),
                    ("mutation", document.startswith("mutation")),
                    ("GET", by_get and not document.startswith("mutation")),
                )
                if held
            )
            if by_get and not document.startswith("mutation"):  # a mutation by GET is 405
                headers["apollo-require-preflight"] = "true"
                response = client.get("/graphql", params={"query": document}, headers=headers)
            else:
                response = client.post("/graphql", json={"query": document}, headers=headers)
            check_answer(figures, response)

        check()
    print(figures.line())
    assert no_logged_errors(caplog) == []
    assert figures.cases >= SCHEMA_EXAMPLES
    assert figures.statuses[200] > SCHEMA_EXAMPLES / 2  # most of them ran


# --- malformed HTTP requests

GOOD_BODIES = [
    {"query": "{ __typename }"},
    {"query": "query P($s: ID!) { product(sku: $s) { sku name } }", "variables": {"s": "x"}},
    {
        "query": "query E($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
        "variables": {"r": [{"__typename": "Product", "sku": "x"}]},
    },
    {"query": "mutation { cartCreate { cart { id } } }"},
    {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/graphql-response+json",
    "application/graphql",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "",
]
FIELDS = ["query", "variables", "extensions", "operationName"]


@dataclass
class Hostile:
    method: str
    content_type: str
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)


def deep_json(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 8))
    good = json.dumps(draw(st.sampled_from(GOOD_BODIES))).encode()
    if kind == 0:  # any bytes
        return draw(st.binary(max_size=200))
    if kind == 1:  # any JSON
        return json.dumps(draw(json_values())).encode()
    if kind == 2:  # an operation's fields of any type
        body = {name: draw(json_values()) for name in draw(st.sets(st.sampled_from(FIELDS)))}
        return json.dumps(body).encode()
    if kind == 3:  # nested, in variables, extensions, or bare
        depth = draw(st.integers(1, 1200))
        nested = deep_json(depth, draw(st.sampled_from(["array", "object"])))
        where = draw(st.sampled_from(["variables", "extensions", "bare"]))
        if where == "bare":
            return nested.encode()
        return ('{"query": "{ __typename }", "' + where + '": {"x": ' + nested + "}}").encode()
    if kind == 4:  # truncated
        return good[: draw(st.integers(0, len(good) - 1))]
    if kind == 5:  # a byte changed
        at = draw(st.integers(0, len(good) - 1))
        return good[:at] + bytes([draw(st.integers(0, 255))]) + good[at + 1 :]
    if kind == 6:  # bytes that are not UTF-8, or an escaped lone surrogate, in a string
        insert = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\\ud800", b"\\udfff"]))
        at = good.index(b'"', 2)
        return good[:at] + insert + good[at:]
    if kind == 7:  # numbers JSON cannot carry, or that no field takes
        number = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "1" * 400]))
        number = draw(st.sampled_from([number, str(draw(st.integers(-(2**80), 2**80)))]))
        return b'{"query": "query($n: Int) { products(first: $n) { nodes { sku } } }",' + (
            b'"variables": {"n": ' + number.encode() + b"}}"
        )
    return good  # the control: a good body in an odd content type


@st.composite
def hostile_requests(draw: st.DrawFn) -> Hostile:
    if draw(st.integers(0, 3)) == 0:  # GET with any parameters
        names = st.sampled_from([*FIELDS, draw(NAMES)])
        texts = st.text(max_size=40) | json_values().map(json.dumps)
        texts = texts | st.integers(1, 1200).map(lambda d: deep_json(d, "array"))
        return Hostile("GET", "", params=draw(st.dictionaries(names, texts, max_size=4)))
    return Hostile("POST", draw(st.sampled_from(CONTENT_TYPES)), body=draw(hostile_bodies()))


def test_malformed_requests_never_get_a_5xx(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    figures = Figures("malformed requests")
    with httpx.Client(base_url=served.url, timeout=30, trust_env=False) as client:

        @hypothesis_settings(FUZZ_SETTINGS, max_examples=BODY_EXAMPLES)
        @given(request=hostile_requests(), who=st.sampled_from(["nobody", "customer"]))
        def check(request: Hostile, who: str) -> None:
            headers = {**served.principals[who], "apollo-require-preflight": "true"}
            note(f"request: {request}")
            if request.content_type:
                headers["content-type"] = request.content_type
            response = client.request(
                request.method,
                "/graphql",
                content=request.body or None,
                params=request.params or None,
                headers=headers,
            )
            check_answer(figures, response)

        check()
    print(figures.line())
    assert no_logged_errors(caplog) == []
    assert figures.cases >= BODY_EXAMPLES
    assert figures.statuses[400] > BODY_EXAMPLES / 4  # most were refused as malformed


# --- websocket messages

OPERATIONS = [
    "{ __typename }",
    'subscription { cartUpdated(cartId: "x") { id } }',
    "query { products(first: 1) { nodes { sku } } }",
]


@st.composite
def socket_messages(draw: st.DrawFn, legacy: bool) -> str | bytes:
    kind = draw(st.integers(0, 6))
    types = ["start", "stop", "connection_init"] if legacy else ["subscribe", "complete", "ping"]
    if kind == 0:
        return json.dumps(draw(json_values()))
    if kind == 1:  # a known type, its fields of any type
        message = {"type": draw(st.sampled_from(types) | NAMES)}
        if draw(st.booleans()):
            message["id"] = draw(st.text(max_size=200) | json_values())
        message["payload"] = draw(json_values())
        return json.dumps(message)
    if kind == 2:  # an operation's payload with fields of any type
        payload = {name: draw(json_values()) for name in draw(st.sets(st.sampled_from(FIELDS)))}
        if draw(st.booleans()):
            payload["query"] = draw(st.sampled_from(OPERATIONS))
        return json.dumps({"id": draw(st.text(max_size=8)), "type": types[0], "payload": payload})
    if kind == 3:  # nested
        nested = deep_json(draw(st.integers(1, 1200)), draw(st.sampled_from(["array", "object"])))
        payload = '{"query": "{ __typename }", "variables": {"x": ' + nested + "}}"
        return '{"id": "1", "type": "' + types[0] + '", "payload": ' + payload + "}"
    if kind == 4:
        return draw(st.text(max_size=100))
    if kind == 5:
        return draw(st.binary(max_size=50))
    operation = draw(st.sampled_from(OPERATIONS))  # the control: a good one
    return json.dumps({"id": "ok", "type": types[0], "payload": {"query": operation}})


async def _exchange(url: str, legacy: bool, init: bool, messages: list[str | bytes]) -> Any:
    """Sends the messages, then asks whether the socket still answers (graphql-transport-ws:
    a ping; graphql-ws: connection_terminate, which closes it 1000). Returns the close frame
    received, or None while the socket is open and answering; raises if it was dropped."""
    protocol = "graphql-ws" if legacy else "graphql-transport-ws"
    async with websockets.connect(url, subprotocols=[protocol], max_size=None) as socket:
        try:
            if init:
                await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            for message in messages:
                await socket.send(message)
            await socket.send(json.dumps({"type": "connection_terminate" if legacy else "ping"}))
            while True:
                answer = json.loads(await asyncio.wait_for(socket.recv(), 20))
                if answer.get("type") in ("next", "error", "data"):
                    codes = error_codes(answer.get("payload"))
                    assert "INTERNAL_SERVER_ERROR" not in codes, answer
                if answer.get("type") == "pong":
                    return None
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                raise AssertionError("the socket was dropped without a close frame") from closed
            return closed.rcvd


def test_malformed_websocket_messages_close_the_socket_with_a_close_frame(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    url = served.url.replace("http://", "ws://") + "/graphql"
    figures = Figures("websocket messages")

    @hypothesis_settings(FUZZ_SETTINGS, max_examples=SOCKET_EXAMPLES)
    @given(data=st.data(), legacy=st.booleans(), init=st.integers(0, 4).map(bool))
    def check(data: st.DataObject, legacy: bool, init: bool) -> None:
        messages = data.draw(st.lists(socket_messages(legacy), min_size=1, max_size=3))
        rcvd = asyncio.run(_exchange(url, legacy, init, messages))
        figures.cases += 1
        figures.statuses["open" if rcvd is None else f"close {rcvd.code}"] += 1
        assert rcvd is None or rcvd.code in ACCEPTED_CLOSE_CODES, rcvd

    check()
    print(figures.line())
    assert no_logged_errors(caplog) == []
    assert figures.cases >= SOCKET_EXAMPLES
    assert figures.statuses["close 4400"] > SOCKET_EXAMPLES / 4
