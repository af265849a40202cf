"""Automatic persisted queries, Apollo's APQ protocol: a hash alone runs a stored operation,
an unknown hash answers PERSISTED_QUERY_NOT_FOUND (HTTP 200, so Apollo clients resend it
with the text), a hash with its text registers it once it has validated."""

from __future__ import annotations

import json

import pytest
from persisted_api import PRODUCTS, code, persisted, post, sha256, upstream_calls
from pymongo import AsyncMongoClient

NO_STORE = "private, no-cache, must-revalidate"


@pytest.fixture
async def collection(settings):
    client = AsyncMongoClient(settings.mongodb_uri.get_secret_value(), tz_aware=True)
    yield client[settings.mongodb_database]["persisted_queries"]
    await client.close()


async def test_an_unknown_hash_answers_persisted_query_not_found(gateway, sandbox):
    response = await post(gateway, extensions=persisted(PRODUCTS))
    # exactly Apollo Server's answer, which apollo-link-persisted-queries retries on
    assert response.status_code == 200
    assert response.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert response.headers["cache-control"] == NO_STORE
    assert upstream_calls(sandbox) == 0


async def test_hash_and_text_register_and_the_hash_alone_then_runs_the_same(
    gateway, sandbox, collection
):
    plain = (await post(gateway, query=PRODUCTS)).json()
    assert "errors" not in plain

    registered = await post(gateway, query=PRODUCTS, extensions=persisted(PRODUCTS))
    assert registered.status_code == 200
    assert registered.json() == plain

    stored = await collection.find_one({"_id": sha256(PRODUCTS)})
    assert stored["query"] == PRODUCTS
    assert stored["registered"] is False  # APQ never adds to the safelist
    assert stored["expires_at"] > stored["created_at"]

    sandbox.reset_calls()
    by_hash = await post(gateway, extensions=persisted(PRODUCTS), operationName="TwoProducts")
    assert by_hash.status_code == 200
    assert by_hash.json() == plain
    assert upstream_calls(sandbox) > 0  # it really ran


async def test_a_hit_costs_no_mongodb_round_trip(gateway, collection):
    await post(gateway, query=PRODUCTS, extensions=persisted(PRODUCTS))
    # behind the pod's back: only its in-memory cache can still answer
    await collection.delete_many({})

    hit = await post(gateway, extensions=persisted(PRODUCTS))
    assert hit.json()["data"]["products"]["edges"]
    # sending the text again writes nothing either: the pod knows the hash
    again = await post(gateway, query=PRODUCTS, extensions=persisted(PRODUCTS))
    assert again.json()["data"]["products"]["edges"]
    assert await collection.count_documents({}) == 0


async def test_another_pod_finds_the_operation_in_mongodb(settings, make_gateway):
    async with make_gateway(settings) as first, make_gateway(settings) as second:
        await post(first, query=PRODUCTS, extensions=persisted(PRODUCTS))
        response = await post(second, extensions=persisted(PRODUCTS))
        assert response.json()["data"]["products"]["edges"]


async def test_a_hash_that_is_not_the_texts_is_refused_and_nothing_runs(
    gateway, sandbox, collection
):
    other = "{ __typename }"
    response = await post(gateway, query=PRODUCTS, extensions=persisted(other))
    assert response.status_code == 400
    assert code(response) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert response.json()["errors"][0]["message"] == "provided sha does not match query"
    assert upstream_calls(sandbox) == 0
    assert await collection.count_documents({}) == 0
    # and the hash it claimed still names nothing
    assert code(await post(gateway, extensions=persisted(other))) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize("version", [2, None, "1"])
async def test_only_version_1_is_understood(gateway, sandbox, version):
    response = await post(gateway, query=PRODUCTS, extensions=persisted(PRODUCTS, version=version))
    assert response.status_code == 400
    assert code(response) == "BAD_REQUEST"
    assert response.json()["errors"][0]["message"] == "Unsupported persisted query version"
    assert upstream_calls(sandbox) == 0


async def test_an_invalid_document_is_not_stored(gateway, collection):
    invalid = "{ products(first: 2) { edges { node { noSuchField } } } }"
    response = await post(gateway, query=invalid, extensions=persisted(invalid))
    assert code(response) == "GRAPHQL_VALIDATION_FAILED"
    assert await collection.count_documents({}) == 0
    assert code(await post(gateway, extensions=persisted(invalid))) == "PERSISTED_QUERY_NOT_FOUND"


async def test_limits_apply_to_the_stored_document(settings, sandbox, make_gateway):
    """A pod with looser limits stored it; a pod with the default limits refuses it."""
    deep = "{ products(first: 1) { edges { node { availability { stores(first: 1) {" + (
        " store { id } } } } } } }"
    )
    loose = settings.with_changes(limits={"max_depth": 20})
    async with make_gateway(loose) as permissive, make_gateway(settings) as strict:
        stored = await post(permissive, query=deep, extensions=persisted(deep))
        assert "errors" not in stored.json()
        strict_settings = settings.with_changes(limits={"max_depth": 3})
        async with make_gateway(strict_settings) as stricter:
            sandbox.reset_calls()
            refused = (await post(stricter, extensions=persisted(deep))).json()
            assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
            assert upstream_calls(sandbox) == 0
        assert (await post(strict, extensions=persisted(deep))).json()["data"]


async def test_get_requests_carry_the_hash_in_the_query_string(gateway, sandbox):
    preflighted = {"content-type": "application/json"}  # as Apollo Client sends on a GET
    params = {"extensions": json.dumps(persisted(PRODUCTS))}

    miss = await gateway.http.get("/graphql", params=params, headers=preflighted)
    assert miss.status_code == 200  # not GraphiQL's page: a GET with extensions is an operation
    assert code(miss) == "PERSISTED_QUERY_NOT_FOUND"
    assert miss.headers["cache-control"] == NO_STORE

    registered = await gateway.http.get(
        "/graphql", params={**params, "query": PRODUCTS}, headers=preflighted
    )
    assert registered.json()["data"]["products"]["edges"]

    hit = await gateway.http.get(
        "/graphql",
        params={**params, "operationName": "TwoProducts", "variables": "{}"},
        headers=preflighted,
    )
    assert hit.status_code == 200
    assert hit.json() == registered.json()


async def test_a_get_by_hash_still_needs_a_preflight_header(gateway, sandbox):
    params = {"extensions": json.dumps(persisted(PRODUCTS))}
    response = await gateway.http.get("/graphql", params=params)
    assert response.status_code == 400
    assert code(response) == "CSRF_PREVENTED"


async def test_a_stored_mutation_is_refused_over_get(gateway, collection):
    mutation = "mutation { __typename }"
    stored = await post(gateway, query=mutation, extensions=persisted(mutation))
    assert stored.json() == {"data": {"__typename": "Mutation"}}
    assert await collection.count_documents({"_id": sha256(mutation)}) == 1

    response = await gateway.http.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(mutation))},
        headers={"apollo-require-preflight": "true"},
    )
    # GraphQL over HTTP's answer to a mutation by GET (docs/graphql-over-http.md)
    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    assert "mutation" in response.json()["errors"][0]["message"]


async def test_apq_hits_and_misses_are_counted(gateway):
    await post(gateway, extensions=persisted(PRODUCTS))
    await post(gateway, query=PRODUCTS, extensions=persisted(PRODUCTS))
    await post(gateway, extensions=persisted(PRODUCTS))
    metrics = (await gateway.http.get("/metrics")).text
    for result in ("miss", "registered", "hit"):
        assert f'omnigate_persisted_queries_total{{result="{result}"}} 1.0' in metrics
