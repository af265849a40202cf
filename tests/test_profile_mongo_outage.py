"""MongoDB stopped and restarted mid-run under a live gateway (a mongod of this test's own,
not the session's): profile reads keep answering from the upstreams and say
CACHE_UNAVAILABLE, /readyz reports MongoDB unreachable, and once mongod is back the cache
serves again."""

from __future__ import annotations

import gc
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import bearer
from profile_support import ME, wait_for

from gateway.local_mongod import LocalMongod

VENDORS = ("square", "shopify", "salesforce")


@pytest.fixture
def own_mongod(tmp_path: Path) -> Iterator[LocalMongod]:
    server = LocalMongod(tmp_path / "mongod")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        # pymongo may leave sockets to a server it saw die for the collector to close; let
        # that happen here, not as a ResourceWarning in whichever test runs next
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


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
