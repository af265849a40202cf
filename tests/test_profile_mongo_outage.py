"""MongoDB stopped and restarted mid-run under a live gateway (a mongod of this test's own,
not the session's): profile reads keep answering from the upstreams and say
CACHE_UNAVAILABLE, /readyz reports MongoDB unreachable, and once mongod is back the cache
serves again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import bearer
from profile_support import ME, mongod_of_its_own, wait_for

from gateway.local_mongod import LocalMongod, free_port

VENDORS = ("square", "shopify", "salesforce")


@pytest.fixture
def own_mongod(tmp_path: Path) -> Iterator[LocalMongod]:
    with mongod_of_its_own(tmp_path / "mongod") as server:
        yield server


def warnings_of(body) -> list[str]:
    return [w["code"] for w in body.get("extensions", {}).get("warnings", [])]


def upstream_calls(sandbox) -> int:
    return sum(sandbox.total_calls(vendor) for vendor in VENDORS)


async def test_profile_reads_survive_a_mongodb_restart(
    settings, make_gateway, sandbox, tokens, dataset, own_mongod
):
    contact = dataset.crm_contacts[31]
    headers = bearer(tokens.customer(contact.id))
    outage_settings = settings.with_changes(
        mongodb_uri=own_mongod.uri,
        mongodb_timeout_seconds=0.5,
        cache={"profile_cache_retry_seconds": 0.2},
    )
    async with make_gateway(outage_settings) as gateway:
        cached = await gateway.query(ME, headers=headers)
        assert "errors" not in cached
        assert "extensions" not in cached
        sandbox.reset_calls()
        assert await gateway.query(ME, headers=headers) == cached
        assert upstream_calls(sandbox) == 0  # served from the cache

        own_mongod.stop()
        started = time.monotonic()
        during = [await gateway.query(ME, headers=headers) for _ in range(4)]
        for body in during:
            assert body["data"] == cached["data"]
            assert "errors" not in body
            assert warnings_of(body) == ["CACHE_UNAVAILABLE"]
            assert body["extensions"]["warnings"][0]["path"] == ["me"]
        assert upstream_calls(sandbox) >= 4  # each read went to the upstreams
        # a dead MongoDB costs a read one server-selection timeout at most, not each time
        assert time.monotonic() - started < 4 * 0.5 + 2
        ready = await gateway.http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["mongodb"] == "unreachable"
        assert (await gateway.http.get("/healthz")).status_code == 200

        own_mongod.start()

        async def cache_serves_again() -> bool:
            sandbox.reset_calls()
            body = await gateway.query(ME, headers=headers)
            return body == cached and upstream_calls(sandbox) == 0

        await wait_for(cache_serves_again, within=30, interval=0.2)
        ready = await gateway.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["mongodb"] == "ok"


async def test_a_gateway_started_without_mongodb_still_answers_profiles(
    settings, make_gateway, sandbox, tokens, dataset
):
    """MongoDB down at start-up: the gateway starts, reads the upstreams directly and says
    so, and is not ready; nothing listens on the port it is given."""
    contact = dataset.crm_contacts[32]
    nowhere = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    no_mongodb = settings.with_changes(mongodb_uri=nowhere, mongodb_timeout_seconds=0.3)
    async with make_gateway(no_mongodb) as gateway:
        body = await gateway.query(ME, headers=bearer(tokens.customer(contact.id)))
        assert body["data"]["me"]["id"] == contact.id
        assert body["data"]["me"]["givenName"] == contact.first_name
        assert "errors" not in body
        assert warnings_of(body) == ["CACHE_UNAVAILABLE"]
        ready = await gateway.http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["mongodb"] == "unreachable"
