"""The upstream HTTP transport: httpx's API over aiohttp's connection pool.

aiohttp spends about a third of httpx's own pool's CPU per call under concurrency
(bench/README.md), so connectors keep httpx's requests and responses and this transport
moves them over one `aiohttp.ClientSession`. It reads each answer whole before handing it
back: upstream answers are JSON documents that are read whole anyway, one `read()` costs
less than pulling 16 KiB chunks through async generators, and the connection goes back to
the pool at once.

aiohttp's failures become what httpx's own transport raises, so UpstreamHttp tells them
apart the same way whichever transport runs: `ConnectError` when no connection was made,
`ReadError` when the connection broke (a reset, a server closing without an answer, a
truncated body: tests/test_fault_proxy.py), the timeout classes only for timeouts. A
refused connection reported as a timeout would send clients UPSTREAM_TIMEOUT for a service
that is down.

The checks of gateway/http_wire.py hold here too: a request head that would not be read as
written is refused before aiohttp sees it (aiohttp refuses control characters in names and
values itself, with a ValueError, but not in the target), and an answer past
`max_response_bytes` fails with `ResponseTooLarge` and its connection is closed (aiohttp
reads any size).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx

from gateway.http1_transport import DEFAULT_LIMITS
from gateway.http_wire import (
    DEFAULT_MAX_RESPONSE_BYTES,
    body_too_large,
    request_head,
    whole_response,
)


class GatewayAiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        *,
        limits: httpx.Limits = DEFAULT_LIMITS,
        trust_env: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        """`trust_env`: take proxies from the environment (HTTP_PROXY and the like).
        `max_response_bytes`: the largest body taken, as received and as decoded."""
        self._limits = limits
        self._max_response_bytes = max_response_bytes
        self._trust_env = trust_env
        # certifi's CA bundle, as httpx verifies with. Loaded here, at start-up: it takes
        # about 50 ms, which the first call's deadline must not pay.
        self._ssl = httpx.create_ssl_context(trust_env=trust_env)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        """The session, made on first use: aiohttp binds it to the running loop."""
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,  # 0: no limit, as httpx's None
            keepalive_timeout=self._limits.keepalive_expiry,  # None: kept, as httpx's None
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            trust_env=self._trust_env,
            # one session serves every user: no cookie may ride from one call to another
            cookie_jar=aiohttp.DummyCookieJar(),
            # httpx decodes Content-Encoding itself, as with its own transport
            auto_decompress=False,
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request_head(request)  # refused before aiohttp sees it: only the check is wanted
        session = self._session or self._open()
        timeout = request.extensions.get("timeout", {})
        data: Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a streamed body: aiohttp frames it (chunked)
            data = request.stream
            request.headers.pop("transfer-encoding", None)
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=data,
                allow_redirects=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
                server_hostname=request.extensions.get("sni_hostname"),
            ) as answer:
                body = await self._read_capped(answer)
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc), request=request) from exc
        except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise httpx.ReadError(str(exc), request=request) from exc
        except aiohttp.InvalidURL as exc:
            raise httpx.UnsupportedProtocol(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:  # an answer aiohttp could not parse
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        reason = answer.reason.encode() if answer.reason else b""
        encoded = "Content-Encoding" in answer.headers
        return whole_response(
            request,
            answer.status,
            reason,
            answer.raw_headers,
            body,
            self._max_response_bytes,
            encoded=encoded,
        )

    async def _read_capped(self, answer: aiohttp.ClientResponse) -> bytes:
        """The body, or ResponseTooLarge with the connection closed (its framing unknown)."""
        cap = self._max_response_bytes
        length = answer.content_length
        if answer.method == "HEAD" or (length is not None and length <= cap):
            return await answer.read()  # aiohttp holds it to its Content-Length
        if length is not None:
            answer.close()
            raise body_too_large(cap)
        pieces = []
        size = 0
        async for piece in answer.content.iter_any():  # chunked or close-delimited
            size += len(piece)
            if size > cap:
                answer.close()
                raise body_too_large(cap)
            pieces.append(piece)
        return b"".join(pieces)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _DiscardedCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        """Set-Cookie from an upstream is dropped (and not parsed: that costs per call)."""


class UpstreamClient(httpx.AsyncClient):
    """The shared upstream client keeps no cookies.

    One client serves every user's requests, so a cookie an upstream sets while answering
    one request must never ride along on another user's. Vendors here authenticate with
    tokens in headers; none needs a cookie jar.

    `transport` is kept as `upstream_transport`, for UpstreamHttp to send to it directly
    (connectors/http.py).
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, timeout: httpx.Timeout) -> None:
        super().__init__(transport=transport, timeout=timeout)
        self.upstream_transport = transport

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
