"""The upstream HTTP transport: HTTP/1.1 straight on an asyncio protocol, parsed by httptools.

Every upstream call the gateway makes is the same shape: one request with its body in
memory, one JSON answer read whole, over a kept-alive connection to one of a handful of
hosts. aiohttp's `ClientSession` does much more per call (tracing signals, cookie and
redirect handling, a streaming reader, a timer rescheduled on every chunk), which cost
about a sixth of the gateway's CPU on a product page (bench/README.md). This transport does
only what these calls need: it writes the request in one write, feeds the answer to
httptools (the llhttp parser uvicorn serves with) and hands back the whole body.

What it keeps of a full client:
- a keep-alive pool per origin. `max_connections` bounds the connections in use at once,
  as aiohttp's `limit` does (idle ones do not count), `max_keepalive_connections` the idle
  ones kept, and an idle connection older than `keepalive_expiry` is not reused. A
  connection the server closes while idle leaves the pool at once;
- TLS through asyncio's own, with certifi's CA bundle as httpx verifies with;
- the timeouts in the request's extensions, as httpx's own transport reads them: connect,
  pool (waiting for a free connection) and read (the longest gap between two reads);
- failures raised as httpx's own transport's: `ConnectError` when no connection was made,
  `ReadError` when the connection broke (a reset, a close before the answer was whole),
  `RemoteProtocolError` for an answer that does not parse, the timeout classes only for
  timeouts (tests/test_fault_proxy.py holds all three transports to this);
- one resend of an idempotent request when a reused connection broke before any byte of
  the answer came: the server closed it while it sat idle, as aiohttp and httpcore resend;
- the checks of gateway/http_wire.py: a head with CR, LF, NUL or another control character
  in a header name, value or the request target is refused before anything is written
  (`LocalProtocolError`, as h11 raises), and an answer whose body passes
  `max_response_bytes` (as received, for Content-Length, chunked and close-delimited
  bodies alike, or as decoded) or whose head passes MAX_HEAD_BYTES fails with
  `ResponseTooLarge` and closes its connection. A Content-Length past the cap fails before
  the body is read. tests/test_http1_h11.py holds the writer and the parser to h11's.

What it leaves out: proxies, HTTP/2, a `HEAD` answer's body rules (no adapter sends one;
the connection is closed after it), and write timeouts (the request is small and written at
once; the read timeout runs from the write).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from typing import Any, cast

import httptools
import httpx

from gateway.http_wire import (
    DEFAULT_MAX_RESPONSE_BYTES,
    MAX_HEAD_BYTES,
    ResponseTooLarge,
    body_too_large,
    head_too_large,
    request_head,
    whole_response,
)

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)
DEFAULT_PORTS = {b"http": 80, b"https": 443}
# RFC 9110 9.2.2: sending one of these twice has the effect of sending it once
IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"TRACE"})
SPILL_AFTER_PIECES = 64

Origin = tuple[bytes, bytes, int]  # scheme, host, port


class _BrokenBeforeAnswer(Exception):
    """A reused connection broke before any byte of the answer: it may be sent again."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one exchange at a time, the answer parsed as it arrives."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_lost: Callable[[_Connection], None],
        max_body: int = DEFAULT_MAX_RESPONSE_BYTES,
    ):
        self._loop = loop
        self._on_lost = on_lost
        self._max_body = max_body
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._read_timeout: float | None = None
        self._read_timer: asyncio.TimerHandle | None = None
        self._head_request = False
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._reset_answer()

    def _reset_answer(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self._pieces: list[bytes] = []
        self._spilled: bytearray | None = None  # the pieces, once there are many small ones
        self._body_size = 0
        self._head_size = 0  # bytes received before the headers were complete
        self._encoded = False  # a Content-Encoding: decoded, and counted, in steps
        self._received = False
        self._last_read = 0.0
        self._until_close = False  # framed by the connection closing, not by its headers
        self._keep_alive = False

    # --- one exchange

    async def exchange(self, head: bytes, request: httpx.Request, timeouts: dict[str, Any]) -> None:
        """Sends the request and waits until the answer is whole (or the exchange fails)."""
        assert self._transport is not None
        self._reset_answer()
        self._answer = answer = self._loop.create_future()
        self._head_request = request.method == "HEAD"
        self._read_timeout = timeouts.get("read")
        try:
            try:
                body = request.content
            except httpx.RequestNotRead:  # a streamed body, sent as it comes
                self._write(head)
                await self._write_stream(request)
            else:
                self._write(head + body if body else head)
            self._last_read = self._loop.time()
            if self._read_timeout is not None and not answer.done():
                self._read_timer = self._loop.call_at(
                    self._last_read + self._read_timeout, self._check_read_timeout
                )
            await answer
        finally:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None
            self._answer = None

    def _write(self, data: bytes) -> None:
        """Writes, or fails the exchange as a broken connection: the peer's close may reach
        the transport before `connection_lost` reaches us, and uvloop then refuses writes."""
        assert self._transport is not None
        try:
            self._transport.write(data)
        except (RuntimeError, OSError) as exc:
            if self.reused and not self._received:
                self._fail(_BrokenBeforeAnswer())
            else:
                self._fail(httpx.WriteError(f"the connection to the upstream broke: {exc!r}"))

    async def _write_stream(self, request: httpx.Request) -> None:
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        assert isinstance(request.stream, httpx.AsyncByteStream)  # as httpx's own transport
        async for part in request.stream:
            if self.closed:
                return
            if part:
                self._write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            if self._writable is not None:
                await self._writable
        if chunked and not self.closed:
            self._write(b"0\r\n\r\n")

    def _check_read_timeout(self) -> None:
        """Fires `read` seconds after the last read; time out only if nothing came since."""
        assert self._read_timeout is not None
        due = self._last_read + self._read_timeout
        if self._loop.time() < due:
            self._read_timer = self._loop.call_at(due, self._check_read_timeout)
            return
        self._read_timer = None
        self._fail(httpx.ReadTimeout(f"no data from the upstream for {self._read_timeout} s"))

    def _fail(self, error: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        self.close()

    @property
    def reusable(self) -> bool:
        return not self.closed and self._keep_alive

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._transport is not None:
                self._transport.close()

    # --- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: this connection's framing is lost
            return
        self._received = True
        self._last_read = self._loop.time()
        if not self.status:
            self._head_size += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, ResponseTooLarge):  # raised by on_body and co.
                self._fail(exc.__context__)
            else:
                self._fail(httpx.RemoteProtocolError(f"the upstream's answer failed: {exc!r}"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"the upstream's answer does not parse: {exc}"))
        if not self.status and self._head_size > MAX_HEAD_BYTES:
            self._fail(head_too_large())

    def eof_received(self) -> bool:
        self.closed = True  # not to be taken from the pool before `connection_lost` comes
        return False  # the server is done with this connection: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            if self._until_close and self.status and exc is None:
                self._answer.set_result(None)  # a clean close is the end of the body
            elif self.reused and not self._received:
                self._answer.set_exception(_BrokenBeforeAnswer())
            else:
                detail = f": {exc!r}" if exc else ""
                what = "before the answer was whole" if self._received else "without an answer"
                self._answer.set_exception(
                    httpx.ReadError(f"the upstream closed the connection {what}{detail}")
                )
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._on_lost(self)

    def pause_writing(self) -> None:
        self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # --- httptools' callbacks

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = status = self._parser.get_status_code()
        with_body = status >= 200 and status not in (204, 304) and not self._head_request
        framed = False
        for name, value in self.headers:
            lower = name.lower()
            if lower == b"content-length":
                framed = True
                # refused before the body comes; llhttp has checked it is digits
                if with_body and int(value) > self._max_body:
                    raise body_too_large(self._max_body)
            elif lower == b"transfer-encoding":
                framed = True
            elif lower == b"content-encoding":
                self._encoded = True
        self._until_close = not framed and status >= 200 and status not in (204, 304)
        if self._head_request and self.status >= 200:
            # no body follows, whatever the headers say; httptools cannot be told so, and
            # would wait for one: answer now and leave the connection unused
            self._until_close = True
            if self._answer is not None and not self._answer.done():
                self._answer.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._max_body:
            raise body_too_large(self._max_body)  # stops the parser; data_received fails the call
        if self._spilled is not None:
            self._spilled += body
            return
        self._pieces.append(body)
        if len(self._pieces) > SPILL_AFTER_PIECES:
            # many small pieces (tiny chunks) would cost far more as objects than as bytes
            self._spilled = bytearray(b"".join(self._pieces))
            self._pieces.clear()

    @property
    def body(self) -> bytes:
        if self._spilled is not None:
            return bytes(self._spilled)
        return b"".join(self._pieces)  # one piece, the common case: no copy

    def response(self, request: httpx.Request) -> httpx.Response:
        """The answer of the last exchange, as httpx describes one."""
        return whole_response(
            request,
            self.status,
            self.reason,
            self.headers,
            self.body,
            self._max_body,
            encoded=self._encoded,
        )

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # an interim answer (100 Continue): the real one follows
            self._reset_answer()
            self._received = True
            return
        self._until_close = False
        # read now: once this callback returns, llhttp answers False until the next answer;
        # a connection that answered a HEAD is never reused, whether or not llhttp saw the
        # answer complete (it does for a 204 or a 304, never for a 200: on_headers_complete)
        self._keep_alive = self._parser.should_keep_alive() and not self._head_request
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(None)


class _Pool:
    """The idle connections to one origin, the most recently used last."""

    def __init__(self, origin: Origin, ssl_context: ssl.SSLContext, max_body: int) -> None:
        scheme, host, port = origin
        self._max_body = max_body
        self._host = host.decode("ascii")
        self._port = port
        self._tls = ssl_context if scheme == b"https" else None  # None: plain TCP
        self.idle: list[_Connection] = []

    def take_idle(self, now: float, expiry: float | None) -> _Connection | None:
        while self.idle:
            connection = self.idle.pop()
            if connection.closed:
                continue
            if expiry is not None and now - connection.idle_since > expiry:
                connection.close()
                continue
            connection.reused = True
            return connection
        return None

    async def connect(self, request: httpx.Request, seconds: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = _Connection(loop, self._forget, self._max_body)
        sni = request.extensions.get("sni_hostname")
        try:
            async with asyncio.timeout(seconds):
                await loop.create_connection(
                    lambda: connection,
                    self._host,
                    self._port,
                    ssl=self._tls,
                    server_hostname=(sni or self._host) if self._tls else None,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"no connection to the upstream in {seconds} s") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"no connection to the upstream: {exc!r}") from exc
        return connection

    def _forget(self, connection: _Connection) -> None:
        if connection in self.idle:
            self.idle.remove(connection)


class Http1Transport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        *,
        limits: httpx.Limits = DEFAULT_LIMITS,
        ssl_context: ssl.SSLContext | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        """`ssl_context`: how https upstreams are verified; by default certifi's CA bundle, as
        httpx verifies with. Loaded here, at start-up: it takes about 50 ms, which the first
        call's deadline must not pay. `max_response_bytes`: the largest body taken, as
        received and as decoded (gateway/http_wire.py)."""
        self._limits = limits
        self._max_response_bytes = max_response_bytes
        self.ssl_context = ssl_context or httpx.create_ssl_context()
        self._pools: dict[Origin, _Pool] = {}
        self._in_use = 0
        self._waiting: list[asyncio.Future[None]] = []
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"{url.scheme!r} is not http or https")
        origin = (scheme, url.raw_host, url.port or DEFAULT_PORTS[scheme])
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(origin, self.ssl_context, self._max_response_bytes)
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        head = request_head(request)  # refused here, before a connection is taken
        await self._acquire_slot(timeouts.get("pool"))
        try:
            connection = await self._exchange(pool, head, request, timeouts)
        finally:
            self._release_slot()
        return connection.response(request)

    async def _exchange(
        self, pool: _Pool, head: bytes, request: httpx.Request, timeouts: dict[str, Any]
    ) -> _Connection:
        """The connection the answer came on: a kept-alive one if any, else a new one."""
        connection = pool.take_idle(time.monotonic(), self._limits.keepalive_expiry)
        if connection is not None:
            try:
                await self._exchange_on(pool, connection, head, request, timeouts)
                return connection
            except _BrokenBeforeAnswer:
                if not _may_resend(request):
                    raise httpx.ReadError(
                        "the upstream closed a kept-alive connection without an answer"
                    ) from None
        connection = await pool.connect(request, timeouts.get("connect"))
        await self._exchange_on(pool, connection, head, request, timeouts)
        return connection

    async def _exchange_on(
        self,
        pool: _Pool,
        connection: _Connection,
        head: bytes,
        request: httpx.Request,
        timeouts: dict[str, Any],
    ) -> None:
        try:
            await connection.exchange(head, request, timeouts)
        except BaseException:
            connection.close()  # cancelled or failed mid-answer: its framing is unknown
            raise
        self._keep_or_close(pool, connection)

    def _keep_or_close(self, pool: _Pool, connection: _Connection) -> None:
        idle = sum(len(p.idle) for p in self._pools.values())
        keep = self._limits.max_keepalive_connections
        if connection.reusable and not self._closed and (keep is None or idle < keep):
            connection.idle_since = time.monotonic()
            pool.idle.append(connection)
        else:
            connection.close()

    async def _acquire_slot(self, seconds: float | None) -> None:
        limit = self._limits.max_connections
        if limit is None or (self._in_use < limit and not self._waiting):
            self._in_use += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                await waiter  # the slot is handed over by `_release_slot`
        except TimeoutError as exc:
            if waiter.done() and not waiter.cancelled():
                return  # handed over as the timeout fired: keep it
            raise httpx.PoolTimeout(f"no free upstream connection in {seconds} s") from exc
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release_slot()  # handed over, but nobody will use it
            raise
        finally:
            if waiter in self._waiting:
                self._waiting.remove(waiter)

    def _release_slot(self) -> None:
        while self._waiting:
            waiter = self._waiting.pop(0)
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to the waiter: `_in_use` stays
                return
        self._in_use -= 1

    async def aclose(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            for connection in pool.idle:
                connection.close()
            pool.idle.clear()


def _may_resend(request: httpx.Request) -> bool:
    """An idempotent request whose body is still at hand (a streamed one was used up)."""
    in_memory = isinstance(request.stream, httpx.ByteStream)
    return in_memory and request.method.encode() in IDEMPOTENT_METHODS
