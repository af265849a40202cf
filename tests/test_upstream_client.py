"""The shared upstream HTTP client: what one user's upstream call leaves behind for others."""

from __future__ import annotations

import httpx
import pytest

from connectors.http import UPSTREAM_CALL, UpstreamHttp
from gateway.http_transport import UpstreamClient
from gateway.settings import HttpSettings
from gateway.wiring.build import build_http_client


async def test_cookies_an_upstream_sets_are_never_sent_on_later_calls():
    seen_cookie_headers: list[str | None] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen_cookie_headers.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=alice; Path=/"}, json={})

    client = build_http_client(HttpSettings(transport="httpx"))
    client._transport = httpx.MockTransport(upstream)  # the client under test, its own wire
    async with client:
        await client.get("http://127.0.0.1:9/first")
        await client.get("http://127.0.0.1:9/second")
    assert seen_cookie_headers == [None, None]
    assert len(client.cookies) == 0


def _echo(seen: list[httpx.Request]) -> httpx.MockTransport:
    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"set-cookie": "session=alice"}, json={"ok": True})

    return httpx.MockTransport(upstream)


CALLS = {
    "json body, params and headers": {
        "method": "POST",
        "json_body": {"ids": ["a"]},
        "params": {"cursor": "c 1"},
        "headers": {"Accept": "application/json", "x-call": "b"},
    },
    "a plain GET": {"method": "GET"},
    "a POST with no body": {"method": "POST"},
    "raw content under a call header": {
        "method": "put",
        "content": b"raw",
        "headers": {"X-Call": "c"},
    },
    "the call names the host": {"method": "GET", "headers": {"Host": "upstream.example"}},
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_a_call_sent_straight_to_the_transport_is_the_one_the_client_would_send(call):
    """UpstreamHttp given the client's transport skips the client's per-call work; what goes
    out must not change: the client's headers under the call's, params, body, timeout."""
    through_client: list[httpx.Request] = []
    direct: list[httpx.Request] = []
    for seen, straight in ((through_client, False), (direct, True)):
        transport = _echo(seen)
        client = httpx.AsyncClient(transport=transport, headers={"x-client": "a", "accept": "*/*"})
        http = UpstreamHttp(
            client,
            service="square",
            base_url="http://127.0.0.1:9/api/",
            transport=transport if straight else None,
        )
        async with client:
            answer = await http.send(
                "square.op",
                path_or_url="/v2/things",
                idempotent=True,
                read=lambda response: (response.status_code, response.json()),
                **call,
            )
        assert answer == (200, {"ok": True})
    for one, other in zip(through_client, direct, strict=True):
        assert (one.method, one.url, one.content) == (other.method, other.url, other.content)
        assert one.headers.raw == other.headers.raw
        # the attempt's seconds left, so equal up to the time between the two calls
        assert one.extensions["timeout"] == pytest.approx(other.extensions["timeout"], abs=0.5)
        assert one.extensions[UPSTREAM_CALL] == other.extensions[UPSTREAM_CALL]


async def test_a_call_sent_straight_carries_the_call_headers_over_the_clients():
    seen: list[httpx.Request] = []
    transport = _echo(seen)
    client = httpx.AsyncClient(transport=transport, headers={"x-client": "a", "accept": "*/*"})
    http = UpstreamHttp(
        client, service="square", base_url="http://127.0.0.1:9/api/", transport=transport
    )
    async with client:
        await http.send(
            "square.op", **CALLS["json body, params and headers"], path_or_url="/v2/things"
        )
    sent = seen[0]
    assert str(sent.url) == "http://127.0.0.1:9/api/v2/things?cursor=c+1"
    assert (sent.headers["accept"], sent.headers["x-client"], sent.headers["x-call"]) == (
        "application/json",
        "a",
        "b",
    )


async def test_the_gateway_client_is_sent_through_directly_and_still_keeps_no_cookies():
    seen: list[httpx.Request] = []
    client = build_http_client(HttpSettings(transport="httpx"))
    assert isinstance(client, UpstreamClient)
    transport = _echo(seen)
    client.upstream_transport = transport
    http = UpstreamHttp(
        client, service="shopify", base_url="http://127.0.0.1:9", transport=transport
    )
    async with client:
        for _ in range(2):
            response = await http.send("shopify.op", "GET", "/x", idempotent=True)
            assert response.json() == {"ok": True}
    assert [request.headers.get("cookie") for request in seen] == [None, None]
    assert len(client.cookies) == 0
