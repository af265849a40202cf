"""GraphQL over HTTP (docs/graphql-over-http.md): Accept negotiation, the status codes of
`application/graphql-response+json`, 406, and the public graphql-http server audit run by
node against a gateway on a loopback port."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from graphql import GraphQLError
from live_server import serving
from strawberry.types import ExecutionResult

from engine.http_status import execution_began, unexecuted_status
from gateway.app import create_app
from gateway.limits.media_types import negotiate

AUDIT_DIR = Path(__file__).parent / "graphql_http_audit"
GQL = "application/graphql-response+json"
JSON = "application/json"
UPSTREAMS = ("square", "shopify", "salesforce")
# A MAY the audit checks that omnigate refuses on purpose: with CSRF prevention on (the
# default), a GET runs an operation only with a header a browser cannot send cross-site
# without a preflight (docs/graphql-over-http.md "Deliberate differences"). The audit's
# plain GETs are therefore refused 400 CSRF_PREVENTED; with the header they pass.
REFUSED_WITHOUT_PREFLIGHT_HEADER = {
    "5A70": "MAY accept application/x-www-form-urlencoded formatted GET requests",
    "D6D5": "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting "
    "application/graphql-response+json",
    "6A70": "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting "
    "application/json",
}


def run_audit(url: str, *headers: str) -> list[dict]:
    node = shutil.which("node")
    assert node, "node is not installed (the graphql-http audit runs on it)"
    assert (AUDIT_DIR / "node_modules" / "graphql-http").is_dir(), (
        "tests/graphql_http_audit has no node_modules: run `make test` (npm ci)"
    )
    completed = subprocess.run(
        [node, "audit.mjs", url + "/graphql", *headers],
        cwd=AUDIT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results: list[dict] = json.loads(completed.stdout)
    assert len(results) > 50, "the audit ran fewer checks than graphql-http 1.23 has"
    return results


def failed(results: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in results if r["status"] != "ok"}


def test_the_graphql_http_audit_passes_for_a_client_sending_the_preflight_header(settings):
    # what the docs ask of a client that sends GETs; a POST passes CSRF prevention anyway
    with serving(create_app(settings)) as url:
        results = run_audit(url, "apollo-require-preflight: true")
    assert failed(results) == {}


def test_the_graphql_http_audit_has_no_warning_or_error_for_plain_requests(settings):
    with serving(create_app(settings)) as url:
        results = run_audit(url)
    failures = failed(results)
    assert [f for f in failures.values() if f["status"] in ("warn", "error")] == []
    # only the documented, deliberate refusals remain, each one for CSRF prevention
    assert {i: f["name"] for i, f in failures.items()} == REFUSED_WITHOUT_PREFLIGHT_HEADER
    for failure in failures.values():
        assert failure["status"] == "notice"
        assert failure["responseStatus"] == 400
        assert "CSRF_PREVENTED" in failure["responseBody"]


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        (JSON, JSON),
        (GQL, GQL),
        ("*/*", JSON),
        ("application/*", JSON),
        (f"{GQL}, {JSON};q=0.9", GQL),  # what graphql-http and Apollo Client 4 send
        (f"{JSON}, {GQL}", JSON),  # equal q: the client's first
        (f"{JSON};q=0.5, {GQL}", GQL),
        (f"{GQL};q=0, */*", JSON),  # q=0 refuses a type whatever else matches
        (f"{JSON}; charset=utf-8", JSON),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GQL),
        ("text/html", None),
        ("application/xml, text/plain", None),
        (f"{JSON};q=0, {GQL};q=0", None),
        ("*/*;q=0", None),
        ("garbage", None),
    ],
)
def test_accept_negotiation(accept, chosen):
    assert negotiate(accept) == chosen


async def _post(gateway, body, accept=None, **headers):
    if accept is not None:
        headers["accept"] = accept
    return await gateway.http.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ products(first: 2 { edges", None, "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query ($n: Int!) { products(first: $n) { edges { cursor } } }", {"n": "x"},
         "BAD_USER_INPUT"),
    ],
)  # fmt: skip
async def test_a_request_refused_before_execution_is_400_without_data_in_the_new_type(
    gateway, sandbox, query, variables, code
):
    response = await _post(gateway, {"query": query, "variables": variables}, GQL)
    assert response.status_code == 400
    assert response.headers["content-type"] == f"{GQL}; charset=utf-8"
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == code
    assert all(sandbox.total_calls(vendor) == 0 for vendor in UPSTREAMS)


async def test_the_same_failures_stay_200_with_data_null_in_application_json(gateway):
    for accept in (None, JSON, "*/*"):
        response = await _post(gateway, {"query": "{ noSuchField }"}, accept)
        assert response.status_code == 200
        assert response.headers["content-type"] == JSON
        assert response.json()["data"] is None


async def test_a_field_error_is_200_with_data_in_the_new_type(gateway):
    # execution began: the request was good, a field failed
    response = await _post(gateway, {"query": "{ products(first: -1) { edges { cursor } } }"}, GQL)
    assert response.status_code == 200
    body = response.json()
    assert "data" in body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["path"] == ["products"]


async def test_a_success_in_the_new_type(gateway):
    response = await _post(gateway, {"query": "{ __typename }"}, f"{GQL}, {JSON};q=0.9")
    assert (response.status_code, response.json()) == (200, {"data": {"__typename": "Query"}})
    assert response.headers["content-type"] == f"{GQL}; charset=utf-8"


@pytest.mark.parametrize("accept", ["text/html", "application/xml", f"{GQL};q=0, {JSON};q=0"])
async def test_an_unacceptable_accept_is_406_before_anything_runs(gateway, sandbox, accept):
    query = "{ products(first: 1) { edges { cursor } } }"
    response = await _post(gateway, {"query": query}, accept)
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"
    assert all(sandbox.total_calls(vendor) == 0 for vendor in UPSTREAMS)


async def test_a_page_load_is_not_refused_406(gateway):
    # a browser asking for GraphiQL sends text/html only: that is no GraphQL request
    response = await gateway.http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("accept", [GQL, JSON])
async def test_a_mutation_by_get_is_405_allowing_post(gateway, accept):
    response = await gateway.http.get(
        "/graphql",
        params={"query": "mutation { cartCreate { cart { id } } }"},
        headers={"accept": accept, "apollo-require-preflight": "true"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("operation_name", [{"obj": "ect"}, 0, False, ["array"]])
async def test_an_operation_name_that_is_not_a_string_is_400(gateway, operation_name):
    body = {"query": "query Q { __typename }", "operationName": operation_name}
    response = await _post(gateway, body)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "`operationName` must be a string or null" in error["message"]


async def test_refusals_answer_in_the_negotiated_type(gateway):
    # CSRF prevention (middleware) and a malformed body (the view) alike
    csrf = await gateway.http.get("/graphql", params={"query": "{ __typename }"},
                                  headers={"accept": GQL})  # fmt: skip
    assert (csrf.status_code, csrf.headers["content-type"]) == (400, f"{GQL}; charset=utf-8")
    assert csrf.json()["errors"][0]["extensions"]["code"] == "CSRF_PREVENTED"
    malformed = await gateway.http.post(
        "/graphql", content=b'{ "not a JSON', headers={"content-type": JSON, "accept": GQL}
    )
    assert malformed.status_code == 400
    assert malformed.headers["content-type"] == f"{GQL}; charset=utf-8"


async def test_an_apq_miss_stays_200_in_both_types(gateway):
    # Apollo Server answers PersistedQueryNotFound 200 in either type; APQ clients
    # written against it rely on that (docs/graphql-over-http.md "Deliberate differences")
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    for accept in (GQL, JSON):
        response = await _post(gateway, {"extensions": extensions}, accept)
        assert response.status_code == 200
        assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_a_failure_of_the_gateway_before_execution_keeps_a_5xx():
    shaped = [{"message": "Unexpected error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
    assert unexecuted_status(shaped) == 500
    assert unexecuted_status([{"extensions": {"code": "DATABASE_UNAVAILABLE"}}]) == 503
    assert unexecuted_status([{"extensions": {"code": "GRAPHQL_PARSE_FAILED"}}]) == 400
    assert unexecuted_status([{"message": "no extensions"}]) == 400


def test_execution_began_is_told_by_data_or_a_field_path():
    before = GraphQLError("Syntax Error")
    at_field = GraphQLError("boom", path=["products"])
    assert not execution_began(ExecutionResult(data=None, errors=[before]))
    assert execution_began(ExecutionResult(data=None, errors=[at_field]))  # null root
    assert execution_began(ExecutionResult(data={"a": 1}, errors=[before]))
    assert execution_began(ExecutionResult(data={"a": 1}, errors=None))


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_subscription_over_http_is_400_pointing_to_the_websocket(gateway, method, caplog):
    # it used to start executing and fail inside: 200 with a masked INTERNAL_SERVER_ERROR
    query = 'subscription { cartUpdated(cartId: "x") { id } }'
    preflight = {"apollo-require-preflight": "true"}
    if method == "GET":
        response = await gateway.http.get("/graphql", params={"query": query}, headers=preflight)
    else:
        response = await gateway.http.post("/graphql", json={"query": query})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "websocket" in error["message"]
    assert "allow" not in response.headers
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
