"""Safelist mode: only operations an operator registered (`omnigate persisted register`) run,
for the principals it is enforced for; APQ cannot add to it, and a refused operation makes
no upstream call."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import bearer
from persisted_api import PRODUCTS, code, persisted, post, sha256, upstream_calls
from pymongo import AsyncMongoClient

from gateway.cli import main

STORES = "query Stores { stores { id name } }"


@pytest.fixture
def enforced(settings):
    return settings.with_changes(persisted_queries={"safelist": "enforce"})


@pytest.fixture
def register(settings, monkeypatch, tmp_path, capsys):
    """`omnigate persisted register` against the test's database: (exit code, stdout,
    stderr)."""
    monkeypatch.setenv("OMNIGATE_MONGODB_URI", settings.mongodb_uri.get_secret_value())
    monkeypatch.setenv("OMNIGATE_MONGODB_DATABASE", settings.mongodb_database)

    async def run(*documents: str | dict) -> tuple[int, str, str]:
        paths = []
        for index, document in enumerate(documents):
            if isinstance(document, dict):
                path = tmp_path / f"manifest{index}.json"
                path.write_text(json.dumps(document))
            else:
                path = tmp_path / f"operation{index}.graphql"
                path.write_text(document)
            paths.append(str(path))
        status = await asyncio.to_thread(main, ["persisted", "register", *paths])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


@pytest.fixture
async def collection(settings):
    client = AsyncMongoClient(settings.mongodb_uri.get_secret_value(), tz_aware=True)
    yield client[settings.mongodb_database]["persisted_queries"]
    await client.close()


async def test_an_unregistered_operation_is_refused_and_fetches_nothing(
    enforced, sandbox, make_gateway
):
    async with make_gateway(enforced) as gateway:
        sandbox.reset_calls()
        as_text = await post(gateway, query=PRODUCTS)
        assert as_text.status_code == 403
        assert code(as_text) == "QUERY_NOT_IN_SAFELIST"
        by_hash = await post(gateway, extensions=persisted(PRODUCTS))
        assert by_hash.status_code == 404
        assert code(by_hash) == "PERSISTED_QUERY_NOT_IN_LIST"
        assert sha256(PRODUCTS) in by_hash.json()["errors"][0]["message"]
        assert by_hash.headers["cache-control"] == "private, no-cache, must-revalidate"
        assert upstream_calls(sandbox) == 0


async def test_a_registered_operation_runs_by_text_or_by_hash(
    enforced, sandbox, make_gateway, register
):
    status, out, _ = await register(PRODUCTS)
    assert status == 0
    assert out.split()[0] == sha256(PRODUCTS)  # the hash clients send
    async with make_gateway(enforced) as gateway:
        for body in (
            {"query": PRODUCTS},
            {"extensions": persisted(PRODUCTS)},
            {"query": PRODUCTS, "extensions": persisted(PRODUCTS)},
        ):
            response = await post(gateway, **body)
            assert response.status_code == 200, body
            assert len(response.json()["data"]["products"]["edges"]) == 2
        # only the exact text is registered: another spelling of it is another operation
        reformatted = PRODUCTS.replace("{ products", "{\n  products")
        assert code(await post(gateway, query=reformatted)) == "QUERY_NOT_IN_SAFELIST"


async def test_apq_cannot_register_in_safelist_mode(enforced, sandbox, make_gateway, collection):
    async with make_gateway(enforced) as gateway:
        sandbox.reset_calls()
        response = await post(gateway, query=PRODUCTS, extensions=persisted(PRODUCTS))
        assert response.status_code == 403
        assert code(response) == "QUERY_NOT_IN_SAFELIST"
        assert upstream_calls(sandbox) == 0
        assert await collection.count_documents({}) == 0
        assert code(await post(gateway, extensions=persisted(PRODUCTS))) == (
            "PERSISTED_QUERY_NOT_IN_LIST"
        )


async def test_an_apq_registration_from_elsewhere_is_not_a_safelist_entry(
    settings, enforced, sandbox, make_gateway, collection
):
    """A pod without the safelist stored it by APQ; it stays out of the safelist."""
    async with make_gateway(settings) as open_pod, make_gateway(enforced) as safelisted:
        stored = await post(open_pod, query=PRODUCTS, extensions=persisted(PRODUCTS))
        assert "errors" not in stored.json()
        assert await collection.count_documents({"registered": False}) == 1
        sandbox.reset_calls()
        assert code(await post(safelisted, extensions=persisted(PRODUCTS))) == (
            "PERSISTED_QUERY_NOT_IN_LIST"
        )
        assert code(await post(safelisted, query=PRODUCTS)) == "QUERY_NOT_IN_SAFELIST"
        assert upstream_calls(sandbox) == 0


async def test_registering_after_an_apq_entry_upgrades_it_for_every_pod(
    settings, make_gateway, register, collection, tokens, dataset
):
    """The pod cached the operation as unregistered; once an operator registers it, the
    pod asks MongoDB again rather than refusing from its cache."""
    kiosks_only = settings.with_changes(
        persisted_queries={"safelist": "enforce", "safelist_principals": ["KIOSK"]}
    )
    kiosk = bearer(tokens.kiosk(dataset.stores[0].id))
    async with make_gateway(kiosks_only) as gateway:
        anonymous = await post(gateway, query=STORES, extensions=persisted(STORES))
        assert "errors" not in anonymous.json()  # not enforced for anonymous: APQ stores it
        refused = await post(gateway, extensions=persisted(STORES), headers=kiosk)
        assert code(refused) == "PERSISTED_QUERY_NOT_IN_LIST"

        assert (await register(STORES))[0] == 0
        stored = await collection.find_one({"_id": sha256(STORES)})
        assert stored["registered"] is True
        assert "expires_at" not in stored  # the safelist never expires

        admitted = await post(gateway, extensions=persisted(STORES), headers=kiosk)
        assert admitted.json()["data"]["stores"]


async def test_the_safelist_applies_only_to_the_principals_it_names(
    settings, sandbox, make_gateway, tokens, dataset
):
    kiosks_only = settings.with_changes(
        persisted_queries={"safelist": "enforce", "safelist_principals": ["KIOSK"]}
    )
    store = dataset.stores[0].id
    async with make_gateway(kiosks_only) as gateway:
        assert "errors" not in (await post(gateway, query=PRODUCTS)).json()
        customer = bearer(tokens.customer(dataset.crm_contacts[0].id))
        assert "errors" not in (await post(gateway, query=PRODUCTS, headers=customer)).json()
        sandbox.reset_calls()
        refused = await post(gateway, query=PRODUCTS, headers=bearer(tokens.kiosk(store)))
        assert code(refused) == "QUERY_NOT_IN_SAFELIST"
        assert upstream_calls(sandbox) == 0


async def test_an_apollo_manifest_registers_each_operation(
    enforced, make_gateway, register, collection
):
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": sha256(body), "body": body, "name": name, "type": "query"}
            for name, body in (("TwoProducts", PRODUCTS), ("Stores", STORES))
        ],
    }
    status, out, _ = await register(manifest)
    assert status == 0
    assert [line.split()[0] for line in out.splitlines()] == [sha256(PRODUCTS), sha256(STORES)]
    stored = await collection.find_one({"_id": sha256(STORES)})
    assert stored["operation_names"] == ["Stores"]
    async with make_gateway(enforced) as gateway:
        assert (await post(gateway, extensions=persisted(STORES))).json()["data"]["stores"]


@pytest.mark.parametrize(
    ("documents", "complaint"),
    [
        ((PRODUCTS, "{ products { noSuchField } }"), "noSuchField"),
        ((PRODUCTS, "{ products("), "Syntax Error"),
        ((PRODUCTS, "fragment F on Product { sku }"), "no operation"),
        (
            (
                {
                    "format": "apollo-persisted-query-manifest",
                    "version": 1,
                    "operations": [{"id": "abc", "body": PRODUCTS, "name": "P", "type": "query"}],
                },
            ),
            "not the SHA-256",
        ),
        (({"format": "something-else", "version": 1, "operations": []},), "manifest"),
    ],
)
async def test_registration_refuses_bad_documents_and_registers_none(
    register, collection, documents, complaint
):
    status, out, err = await register(*documents)
    assert status == 1
    assert out == ""
    assert complaint in err
    assert "nothing registered" in err
    assert await collection.count_documents({}) == 0
