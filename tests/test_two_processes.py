"""Scale on one machine: gateway processes share nothing but MongoDB, and that is enough.

Two `omnigate serve` processes against one MongoDB share carts (made through one, changed
through the other), the customer profile cache (a profile assembled by one is a cache hit
in the other: no vendor called, the hit counted in its /metrics) and subscriptions (a
device subscribed on one sees a change made through the other). And `serve --workers 2`
runs two worker processes behind one port, both answering.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from cart_api import CART, CART_CREATE, LINES_ADD, Device, online_skus
from conftest import REPO_ROOT, GatewayClient, Sandbox, bearer, sandbox_settings
from test_cart_live import gateway_process, settings_env, subscribe

from gateway.local_mongod import LocalMongod, free_port, stop_process
from gateway.settings import Settings

# starts whole processes (the stack, workers): `make test-processes`, its own CI step
pytestmark = pytest.mark.processes

PROFILE = "query ($id: ID!) { customer(id: $id) { id email loyalty { balance } } }"


@pytest.fixture(scope="module")
def shared_settings(mongod: LocalMongod, sandbox: Sandbox) -> Settings:
    """One database for both processes (the conftest `settings` is per test)."""
    return sandbox_settings(mongod, sandbox)


@pytest.fixture(scope="module")
def two_processes(shared_settings: Settings) -> Iterator[tuple[str, str]]:
    with gateway_process(shared_settings) as first, gateway_process(shared_settings) as second:
        yield first, second


@pytest.fixture
async def clients(two_processes: tuple[str, str]) -> AsyncIterator[tuple[GatewayClient, ...]]:
    async with (
        httpx.AsyncClient(base_url=two_processes[0], timeout=30) as a,
        httpx.AsyncClient(base_url=two_processes[1], timeout=30) as b,
    ):
        yield GatewayClient(a), GatewayClient(b)


def counter(metrics_text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.compile(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", re.M)
    match = pattern.search(metrics_text)
    return float(match.group(1)) if match else 0.0


async def test_a_cart_made_through_one_process_is_changed_through_the_other(
    clients, tokens, dataset
):
    a, b = clients
    customer = bearer(tokens.customer(dataset.crm_contacts[21].id))
    phone, kiosk = Device(a, customer), Device(b, customer)
    sku = online_skus(dataset)[0]

    cart = (await phone.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]
    seen_by_b = (await kiosk.run(CART, id=cart["id"]))["cart"]
    assert (seen_by_b["id"], seen_by_b["version"]) == (cart["id"], cart["version"])
    added = await kiosk.run(
        LINES_ADD, cartId=cart["id"], lines=[{"sku": sku, "quantity": 2}], v=cart["version"]
    )
    assert added["cartLinesAdd"]["userErrors"] == []
    seen_by_a = (await phone.run(CART, id=cart["id"]))["cart"]
    assert seen_by_a["version"] == cart["version"] + 1
    assert [(line["sku"], line["quantity"]) for line in seen_by_a["lines"]] == [(sku, 3)]


async def test_a_profile_cached_by_one_process_is_a_cache_hit_in_the_other(
    clients, tokens, dataset, sandbox
):
    a, b = clients
    staff = bearer(tokens.staff(dataset.stores[0].id))
    contact = dataset.crm_contacts[22]

    first = await a.query(PROFILE, {"id": contact.id}, headers=staff)
    assert first["data"]["customer"]["id"] == contact.id
    hits_before = counter(
        (await b.http.get("/metrics")).text, "omnigate_cache_lookups_total", cache="profile",
        result="hit",
    )  # fmt: skip
    sandbox.reset_calls()
    second = await b.query(PROFILE, {"id": contact.id}, headers=staff)

    assert second == first
    assert [sandbox.total_calls(v) for v in ("salesforce", "square", "shopify")] == [0, 0, 0]
    hits_after = counter(
        (await b.http.get("/metrics")).text, "omnigate_cache_lookups_total", cache="profile",
        result="hit",
    )  # fmt: skip
    assert hits_after == hits_before + 1


async def test_a_change_through_one_process_reaches_a_subscriber_on_the_other(
    clients, two_processes, tokens, dataset
):
    a, _ = clients
    token = tokens.customer(dataset.crm_contacts[23].id)
    phone = Device(a, bearer(token))
    sku = online_skus(dataset)[1]
    cart = (await phone.run(CART_CREATE, lines=[{"sku": sku}]))["cartCreate"]["cart"]

    async with subscribe(two_processes[1], cart["id"], bearer(token)) as kiosk:
        assert (await kiosk.next())["data"]["cartUpdated"]["version"] == cart["version"]
        await phone.run(LINES_ADD, cartId=cart["id"], lines=[{"sku": sku, "quantity": 1}])
        changed = (await kiosk.next())["data"]["cartUpdated"]
    assert changed["version"] == cart["version"] + 1
    assert changed["lines"] == [{"sku": sku, "quantity": 2}]


def test_serve_with_two_workers_answers_from_both(shared_settings: Settings) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", "2"],
        cwd=REPO_ROOT,
        env=settings_env(shared_settings, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        pids = asyncio.run(_worker_pids(url, process))
    finally:
        stop_process(process)
    assert len(pids) == 2, pids
    assert process.pid not in pids  # the supervisor serves nothing itself
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the workers went with it


async def _worker_pids(url: str, process: subprocess.Popen[bytes]) -> set[int]:
    """The pids of the processes that answered /metrics, asked on fresh connections in
    bursts until two have answered (the kernel hands each connection to whichever worker
    accepts it first) or 30 s pass."""
    pids: set[int] = set()
    deadline = time.monotonic() + 30
    while len(pids) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, "serve --workers 2 exited"

        async def one() -> int | None:
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    response = await client.get(url + "/metrics")
            except httpx.TransportError:
                return None  # not listening yet
            match = re.search(r'^omnigate_process_info\{pid="(\d+)"', response.text, re.M)
            assert response.status_code == 200, response.text[:200]
            assert match, response.text[:200]
            return int(match.group(1))

        pids |= {pid for pid in await asyncio.gather(*(one() for _ in range(16))) if pid}
        await asyncio.sleep(0.2)
    return pids
