"""The upstream HTTP transport: httpx's API over aiohttp's connection pool.

httpx-aiohttp maps aiohttp's `ClientConnectorError` (refused, unreachable, DNS) to
`httpx.ConnectTimeout`, because that class also matches its `ClientConnectionError` rule
first. A refused connection is not a timeout: reporting it as one would send clients
UPSTREAM_TIMEOUT for a service that is down, so it is mapped back to `httpx.ConnectError`.
"""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


class GatewayAiohttpTransport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(
                cause, aiohttp.ServerTimeoutError
            ):
                raise httpx.ConnectError(str(cause), request=request) from cause
            raise
