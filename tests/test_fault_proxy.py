"""The fault proxy misbehaves as a failing upstream would, seen through each transport the
gateway can use: its own (Http1Transport, the default), aiohttp's (GatewayAiohttpTransport)
and httpx's own connection pool."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from fault_proxy import VENDOR_500, Fault, FaultProxy
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gateway.local_mongod import free_port
from gateway.settings import TRANSPORT_NAMES
from gateway.wiring.build import upstream_transport

DRIP_BODY = "0123456789abcdef"  # 16 bytes: at 0.1 s a byte, 1.6 s in all


@dataclass
class Upstream:
    url: str
    calls: list[str] = field(default_factory=list)


def upstream_app(upstream: Upstream) -> Starlette:
    async def ok(request: Request) -> Response:
        upstream.calls.append(request.url.path)
        return JSONResponse({"ok": True})

    async def echo(request: Request) -> Response:
        upstream.calls.append(request.url.path)
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "query": request.url.query,
                "body": body.decode(),
                "content_length": request.headers.get("content-length"),
                "transfer_encoding": request.headers.get("transfer-encoding"),
            }
        )

    async def whoami(request: Request) -> Response:
        upstream.calls.append(request.url.path)
        headers = {"location": upstream.url + "/json"}
        return JSONResponse({"instance_url": upstream.url}, headers=headers)

    async def drip(request: Request) -> Response:
        upstream.calls.append(request.url.path)
        return PlainTextResponse(DRIP_BODY)

    async def empty(request: Request) -> Response:
        upstream.calls.append(request.url.path)
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/json", ok),
            Route("/echo", echo, methods=["GET", "POST", "PUT"]),
            Route("/whoami", whoami),
            Route("/drip", drip),
            Route("/empty", empty),
        ]
    )


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    port = free_port()
    target = Upstream(f"http://127.0.0.1:{port}")
    config = uvicorn.Config(
        upstream_app(target), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "upstream failed to start"
        assert time.monotonic() < deadline, "upstream did not start within 10 s"
        time.sleep(0.02)
    yield target
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
async def proxy(upstream: Upstream) -> AsyncIterator[FaultProxy]:
    upstream.calls.clear()
    async with FaultProxy(upstream.url) as proxy:
        yield proxy


def make_client(kind: str) -> httpx.AsyncClient:
    transport = upstream_transport(kind)
    return httpx.AsyncClient(transport=transport, timeout=5.0, trust_env=False)


@pytest.fixture(params=TRANSPORT_NAMES)
def kind(request: pytest.FixtureRequest) -> str:
    """Which transport the client under test uses."""
    return str(request.param)


@pytest.fixture
async def client(kind: str) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(kind) as client:
        yield client


async def test_pass_forwards_requests_over_one_kept_alive_connection(
    proxy: FaultProxy, client: httpx.AsyncClient, upstream: Upstream
) -> None:
    for _ in range(3):
        response = await client.get(proxy.url + "/json")
        assert response.status_code == 200
        assert response.json() == {"ok": True}
    assert proxy.connections == 1
    assert proxy.seen(Fault.PASS) == 3
    assert upstream.calls == ["/json"] * 3


async def _chunks() -> AsyncIterator[bytes]:
    for part in (b'{"ids": ', b'["a", "b"]', b"}"):
        yield part


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_pass_forwards_request_bodies_of_either_framing(
    proxy: FaultProxy, client: httpx.AsyncClient, framing: str
) -> None:
    content = b'{"ids": ["a", "b"]}' if framing == "content-length" else _chunks()
    response = await client.post(proxy.url + "/echo?cursor=x", content=content)
    assert response.json() == {
        "method": "POST",
        "query": "cursor=x",
        "body": '{"ids": ["a", "b"]}',
        "content_length": "19",  # the proxy re-frames what it forwards
        "transfer_encoding": None,
    }
    # the connection is still in step after a chunked body
    assert (await client.get(proxy.url + "/json")).status_code == 200
    assert proxy.connections == 1


async def test_connection_close_ends_the_connection_after_the_answer(
    proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    response = await client.get(proxy.url + "/json", headers={"connection": "close"})
    assert response.headers["connection"] == "close"
    assert (await client.get(proxy.url + "/json")).status_code == 200
    assert proxy.connections == 2


async def test_bodiless_answers_keep_their_framing(
    proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    head = await client.head(proxy.url + "/json")
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "11", b"")
    assert (await client.get(proxy.url + "/empty")).status_code == 204
    assert (await client.get(proxy.url + "/json")).json() == {"ok": True}


async def test_the_targets_url_is_rewritten_to_the_proxys(
    proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    response = await client.get(proxy.url + "/whoami")
    assert response.json() == {"instance_url": proxy.url}
    assert response.headers["location"] == proxy.url + "/json"


@pytest.mark.parametrize("body", [None, VENDOR_500["square"]], ids=["generic", "square"])
async def test_http_500_answers_json_without_contacting_the_target(
    proxy: FaultProxy, client: httpx.AsyncClient, upstream: Upstream, body: object
) -> None:
    proxy.set(Fault.HTTP_500, body=body)
    response = await client.get(proxy.url + "/json")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == (body or {"error": "fault proxy: HTTP_500"})
    assert upstream.calls == []


async def test_throttle_429_says_when_to_retry(
    proxy: FaultProxy, client: httpx.AsyncClient, upstream: Upstream
) -> None:
    proxy.set(Fault.THROTTLE_429, retry_after=7)
    response = await client.post(proxy.url + "/echo", json={"ids": []})
    assert (response.status_code, response.headers["retry-after"]) == (429, "7")
    assert upstream.calls == []


async def test_malformed_json_is_a_200_that_does_not_parse(
    proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    proxy.set(Fault.MALFORMED_JSON)
    response = await client.get(proxy.url + "/json")
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_wrong_content_type_is_a_200_html_page(
    proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    proxy.set(Fault.WRONG_CONTENT_TYPE)
    response = await client.get(proxy.url + "/json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.content.startswith(b"<!DOCTYPE html>")


# What each transport raises. Http1Transport raises, and GatewayAiohttpTransport maps
# aiohttp's failures onto, httpx's classes by what happened: no connection made is
# ConnectError, a broken one (reset, closed without an answer, a truncated body) ReadError,
# so UpstreamHttp never calls a service that is down UPSTREAM_TIMEOUT.
RAISES = {
    (Fault.RESET, "httpx"): httpx.ReadError,
    (Fault.RESET, "aiohttp"): httpx.ReadError,
    (Fault.CLOSE, "httpx"): httpx.RemoteProtocolError,
    (Fault.CLOSE, "aiohttp"): httpx.ReadError,
    (Fault.TIMEOUT, "httpx"): httpx.ReadTimeout,
    (Fault.TIMEOUT, "aiohttp"): httpx.ReadTimeout,
    (Fault.TRUNCATED, "httpx"): httpx.RemoteProtocolError,
    (Fault.TRUNCATED, "aiohttp"): httpx.ReadError,
    (Fault.REFUSE, "httpx"): httpx.ConnectError,
    (Fault.REFUSE, "aiohttp"): httpx.ConnectError,
    (Fault.RESET, "http1"): httpx.ReadError,
    (Fault.CLOSE, "http1"): httpx.ReadError,
    (Fault.TIMEOUT, "http1"): httpx.ReadTimeout,
    (Fault.TRUNCATED, "http1"): httpx.ReadError,
    (Fault.REFUSE, "http1"): httpx.ConnectError,
}


@pytest.mark.parametrize(
    "fault", [Fault.RESET, Fault.CLOSE, Fault.TIMEOUT, Fault.TRUNCATED, Fault.REFUSE]
)
async def test_broken_connections_reach_the_client_as_transport_errors(
    proxy: FaultProxy, client: httpx.AsyncClient, kind: str, fault: Fault
) -> None:
    assert (await client.get(proxy.url + "/json")).status_code == 200  # a pooled connection
    port = proxy.port
    proxy.set(fault)
    started = time.monotonic()
    with pytest.raises(httpx.TransportError) as raised:
        await client.get(proxy.url + "/json", timeout=httpx.Timeout(5.0, read=0.3))
    assert raised.type is RAISES[fault, kind]
    assert time.monotonic() - started < 2
    proxy.set(Fault.PASS)
    assert (await client.get(proxy.url + "/json")).status_code == 200
    assert proxy.port == port


async def test_aiohttp_retries_an_idempotent_request_once_after_a_reset(
    proxy: FaultProxy, client: httpx.AsyncClient, kind: str
) -> None:
    """aiohttp resends a GET (not a POST) whose connection was reset, unseen by httpx's API:
    one reset costs the upstream two requests, and a retry policy on top counts one.
    Http1Transport resends only on a kept-alive connection, which this first call has not
    (tests/test_http1_transport.py)."""
    proxy.set(Fault.RESET, times=1)
    if kind == "aiohttp":
        assert (await client.get(proxy.url + "/json")).status_code == 200
        assert (proxy.seen(Fault.RESET), proxy.seen(Fault.PASS)) == (1, 1)
    else:
        with pytest.raises(httpx.ReadError):
            await client.get(proxy.url + "/json")
    proxy.set(Fault.RESET, times=1)
    with pytest.raises(httpx.TransportError):
        await client.post(proxy.url + "/echo", content=b"{}")


async def test_slow_drip_outlasts_a_per_read_timeout(
    proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    """Each byte comes within the 1 s read timeout, so the call takes as long as the drip."""
    proxy.set(Fault.SLOW_DRIP, drip_interval=0.1)
    started = time.monotonic()
    response = await client.get(proxy.url + "/drip", timeout=httpx.Timeout(5.0, read=1.0))
    assert (response.status_code, response.text) == (200, DRIP_BODY)
    assert time.monotonic() - started > 1.5


async def test_slow_drip_is_bounded_by_a_deadline_on_the_whole_call(
    proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    proxy.set(Fault.SLOW_DRIP, drip_interval=0.1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await client.get(proxy.url + "/drip", timeout=httpx.Timeout(5.0, read=1.0))
    proxy.set(Fault.PASS)
    assert (await client.get(proxy.url + "/json")).status_code == 200


async def test_a_fault_for_the_next_k_requests_reverts_to_pass(
    proxy: FaultProxy, client: httpx.AsyncClient
) -> None:
    proxy.set(Fault.HTTP_500, times=2)
    statuses = [(await client.get(proxy.url + "/json")).status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert (proxy.fault, proxy.seen(Fault.HTTP_500), proxy.seen(Fault.PASS)) == (Fault.PASS, 2, 2)
    proxy.reset_counts()
    assert proxy.seen() == 0


def test_refuse_cannot_be_limited_to_k_requests(upstream: Upstream) -> None:
    proxy = FaultProxy(upstream.url)
    with pytest.raises(ValueError, match="REFUSE"):
        proxy.set(Fault.REFUSE, times=1)
    with pytest.raises(ValueError, match="times"):
        proxy.set(Fault.HTTP_500, times=0)


@pytest.mark.parametrize("kind", TRANSPORT_NAMES)
async def test_a_proxy_in_its_own_thread_is_switched_from_the_test_loop(
    upstream: Upstream, kind: str
) -> None:
    with FaultProxy(upstream.url).running_in_thread() as proxy:
        async with make_client(kind) as client:
            assert (await client.get(proxy.url + "/json")).status_code == 200
            proxy.set(Fault.REFUSE)
            with pytest.raises(httpx.ConnectError):
                await client.get(proxy.url + "/json")
            proxy.set(Fault.HTTP_500, times=1)
            assert (await client.get(proxy.url + "/json")).status_code == 500
            assert (await client.get(proxy.url + "/json")).status_code == 200


def test_a_proxy_in_its_own_thread_serves_sync_clients(upstream: Upstream) -> None:
    with (
        FaultProxy(upstream.url).running_in_thread() as proxy,
        httpx.Client(timeout=5.0, trust_env=False) as client,
    ):
        proxy.set(Fault.THROTTLE_429, times=1)
        assert client.get(proxy.url + "/json").status_code == 429
        assert client.get(proxy.url + "/json").json() == {"ok": True}


async def test_stopping_drops_connections_held_by_a_timeout(upstream: Upstream) -> None:
    proxy = await FaultProxy(upstream.url).start()
    async with make_client("httpx") as client:
        proxy.set(Fault.TIMEOUT)
        pending = asyncio.create_task(client.get(proxy.url + "/json"))
        for _ in range(200):  # the request is held by the proxy within 2 s
            if proxy.seen(Fault.TIMEOUT):
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the request never reached the proxy")
        await asyncio.wait_for(proxy.stop(), timeout=2)
        with pytest.raises(httpx.RemoteProtocolError):
            await asyncio.wait_for(pending, timeout=2)


async def test_an_unreachable_target_answers_502(client: httpx.AsyncClient) -> None:
    async with FaultProxy(f"http://127.0.0.1:{free_port()}") as proxy:
        response = await client.get(proxy.url + "/json")
    assert response.status_code == 502
    assert response.json()["error"].startswith("fault proxy: target failed")


async def test_a_client_expecting_100_continue_gets_it(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        async with asyncio.timeout(2):
            assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 \r\n\r\n"
            writer.write(b"{}")
            answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b'"body":"{}","content_length":"2","transfer_encoding":null}')
