"""The upstream HTTP transport: httpx's API over aiohttp's connection pool.

httpx-aiohttp maps every `aiohttp.ClientConnectionError` to `httpx.ConnectTimeout`: a
refused connection, a reset, a server closing without an answer. None of those is a
timeout, and reporting one as such would send clients UPSTREAM_TIMEOUT for a service that
is down, so they are mapped back to what httpx's own transport raises: `ConnectError`
when no connection was made, `ReadError` when the connection broke (as observed through
tests/fault_proxy.py). Real timeouts keep their timeout class.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


class GatewayAiohttpTransport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ServerTimeoutError | TimeoutError):
                raise
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(cause), request=request) from cause
            if isinstance(cause, aiohttp.ClientConnectionError):
                raise httpx.ReadError(str(cause), request=request) from cause
            raise


class _DiscardedCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        """Set-Cookie from an upstream is dropped (and not parsed: that costs per call)."""


class UpstreamClient(httpx.AsyncClient):
    """The shared upstream client keeps no cookies.

    One client serves every user's requests, so a cookie an upstream sets while answering
    one request must never ride along on another user's. Vendors here authenticate with
    tokens in headers; none needs a cookie jar.
    """

    @property
    def cookies(self) -> httpx.Cookies:
        return _DiscardedCookies()

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        """Ignored: see the class docstring."""

    async def send(
        self, request: httpx.Request, *, stream: bool = False, **kwargs: Any
    ) -> httpx.Response:
        response = await super().send(request, stream=stream, **kwargs)
        if not stream:
            # httpx binds the stream it read to the response and back: a reference cycle
            # per call, and with it the response, its request and aiohttp's, left for the
            # garbage collector. The body is read and the stream closed: drop it.
            response.stream = httpx.ByteStream(b"")
        return response
