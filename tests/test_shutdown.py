"""Graceful shutdown under load: `omnigate serve` gets SIGTERM while a steady stream of
requests (some held up by a slow upstream) and a subscription are open.

What must hold: every request the gateway had accepted gets a complete 200 (slow ones
included); new connections are refused from then on; the subscription gets a close frame
with a code clients reconnect on (1012, service restart); the process exits, cleanly,
within its grace period (OMNIGATE_SHUTDOWN_GRACE_SECONDS).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from cart_api import CART_CREATE, Device, online_skus
from conftest import REPO_ROOT, GatewayClient, bearer
from fault_proxy import Fault, FaultProxy
from test_cart_live import settings_env, subscribe

from gateway.local_mongod import free_port
from gateway.settings import Settings

GRACE_SECONDS = 5.0
SLOW_UPSTREAM_SECONDS = 1.5
# Square answers this late, so a query reading stock is in flight across the SIGTERM.
STOCK = "query ($sku: ID!) { product(sku: $sku) { sku availability { online { quantity } } } }"
NAME = "query ($sku: ID!) { product(sku: $sku) { sku name } }"
# A request started this long before the SIGTERM has been accepted by the server; one
# started later may still be in the kernel's backlog when the listener closes, and a
# connection never accepted is not a request lost.
SURELY_ACCEPTED = 0.25


@dataclass
class Outcome:
    started: float
    kind: str  # "slow" or "fast"
    status: int | None = None
    complete: bool = False
    error: str | None = None


@pytest.fixture
def slow_square(sandbox) -> Iterator[FaultProxy]:
    with FaultProxy(sandbox.url("square")).running_in_thread() as proxy:
        yield proxy


def start_gateway(settings: Settings, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = settings_env(settings, port) | {
        "OMNIGATE_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "OMNIGATE_LOG_FORMAT": "json",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the gateway did not become ready"
        time.sleep(0.1)


def one_connection_per_request() -> httpx.AsyncClient:
    """Each request on a connection of its own, so each one tests whether connections are
    still accepted. One client for all: building one per request costs enough CPU (its TLS
    context) to delay the requests behind it."""
    return httpx.AsyncClient(timeout=15, limits=httpx.Limits(max_keepalive_connections=0))


async def request(
    client: httpx.AsyncClient, url: str, document: str, sku: str, kind: str
) -> Outcome:
    outcome = Outcome(time.monotonic(), kind)
    try:
        response = await client.post(
            url + "/graphql", json={"query": document, "variables": {"sku": sku}}
        )
        outcome.status = response.status_code
        body = response.json()
        outcome.complete = body.get("data", {}).get("product", {}).get("sku") == sku
    except httpx.ConnectError:
        outcome.error = "refused"
    except (httpx.HTTPError, ValueError) as exc:
        outcome.error = type(exc).__name__
    return outcome


async def test_sigterm_drains_in_flight_requests_and_closes_subscriptions(
    settings, slow_square, tokens, dataset, tmp_path
):
    sku = online_skus(dataset)[0]
    log = tmp_path / "gateway.log"
    process, url = start_gateway(settings.with_changes(square={"base_url": slow_square.url}), log)
    try:
        token = tokens.customer(dataset.crm_contacts[31].id)
        async with httpx.AsyncClient(base_url=url, timeout=15) as http:
            phone = Device(GatewayClient(http), bearer(token))
            cart = (await phone.run(CART_CREATE))["cartCreate"]["cart"]
            # Square's SKU mapping is fetched once and cached: before the slowness
            warm = await request(http, "", STOCK, sku, "slow")
            assert warm.complete, warm
        slow_square.set(Fault.PASS, delay=SLOW_UPSTREAM_SECONDS)

        async with (
            subscribe(url, cart["id"], bearer(token)) as kiosk,
            one_connection_per_request() as client,
        ):
            await kiosk.next()
            tasks: list[asyncio.Task[Outcome]] = []

            async def fire(seconds: float) -> None:
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    tasks.append(asyncio.create_task(request(client, url, NAME, sku, "fast")))
                    await asyncio.sleep(0.03)

            await fire(0.4)
            tasks += [
                asyncio.create_task(request(client, url, STOCK, sku, "slow")) for _ in range(4)
            ]

            async def close_frame() -> tuple[float, websockets.ConnectionClosed]:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await kiosk.next()
                return time.monotonic(), closed.value

            closing = asyncio.create_task(close_frame())
            await fire(0.5)
            process.send_signal(signal.SIGTERM)
            sigterm = time.monotonic()
            await fire(1.0)
            closed_at, closed = await closing
            outcomes = await asyncio.gather(*tasks)
        exit_code = await asyncio.to_thread(process.wait, GRACE_SECONDS + 5)
        exited_after = time.monotonic() - sigterm
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    output = log.read_text()
    # uvicorn raises the SIGTERM it caught again once it has shut down, so the exit status
    # says what stopped it
    assert exit_code == -signal.SIGTERM, output
    assert '"message":"Application shutdown complete."' in output
    assert exited_after < GRACE_SECONDS, output
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1012  # service restart: graphql-ws clients reconnect
    assert 0 < closed_at - sigterm < 1.0

    accepted = [o for o in outcomes if o.started < sigterm - SURELY_ACCEPTED]
    slow = [o for o in accepted if o.kind == "slow"]
    assert len(slow) == 4
    lost = [o for o in accepted if not (o.status == 200 and o.complete)]
    assert lost == [], output
    # whatever got an answer got a whole one: nothing cut off, no 5xx
    answered = [o for o in outcomes if o.status is not None]
    assert all(o.status == 200 and o.complete for o in answered), answered
    # once refused, refused: the listener is closed, not flapping
    late = sorted((o for o in outcomes if o.started > sigterm), key=lambda o: o.started)
    assert late, outcomes
    assert late[-1].error == "refused", late
    first_refusal = next(i for i, o in enumerate(late) if o.error == "refused")
    assert all(o.error == "refused" for o in late[first_refusal:]), late
    assert late[first_refusal].started - sigterm < 0.5
    assert '"message":"Shutting down"' in output  # the logs are JSON lines
