"""The shared upstream HTTP client: what one user's upstream call leaves behind for others."""

from __future__ import annotations

import httpx

from gateway.settings import HttpSettings
from gateway.wiring import build_http_client


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
