"""A fault-injecting HTTP/1.1 proxy on loopback, to put in front of a sandbox vendor in tests.

    proxy = FaultProxy(sandbox.url("square"))
    async with proxy:                          # or, from sync code: with proxy.running_in_thread():
        settings = Settings(..., square={"base_url": proxy.url})
        proxy.set(Fault.HTTP_500, times=2)     # the next two requests fail, then it is PASS again
        ...
        assert proxy.seen(Fault.HTTP_500) == 2

The fault is chosen per request, once the request has been read in full:

    PASS                forwards to the target (an httpx client); bodies re-framed by Content-Length
    HTTP_500            500 with a JSON body: `body=` (e.g. VENDOR_500["square"]) or a generic one
    THROTTLE_429        429 with `Retry-After: retry_after` and a JSON body (`body=` as above)
    MALFORMED_JSON      200, application/json, a body that is not JSON
    WRONG_CONTENT_TYPE  200, text/html: what a login page or a load balancer's error page gives
    RESET               reads the request, then closes with SO_LINGER 0: the client gets an RST
    CLOSE               reads the request, then closes without answering (a FIN, no RST)
    TIMEOUT             reads the request and never answers; holds the connection until the
                        client gives up (or the proxy stops)
    SLOW_DRIP           the target's status line and headers at once, then its body one byte
                        every `drip_interval` seconds
    TRUNCATED           the target's headers with the full Content-Length, half the body, close
    REFUSE              stops listening and drops open connections, so connects are refused;
                        any other mode listens again on the same port. Nothing reaches the
                        proxy to count, so REFUSE takes no `times=`.

`set(..., delay=seconds)` makes the requests it applies to wait that long, once read, before
the fault (a slow upstream: `set(Fault.PASS, delay=1.0)`). `headers_seen` holds every
request's headers as the proxy read them, for what the client sends (trace context).

The synthetic answers, RESET, CLOSE and TIMEOUT never contact the target; a target that
cannot be reached under PASS answers 502. `set()` works from any thread and returns once the
proxy's loop has applied the change, so a REFUSE is in force (the port closed) when it
returns. The target's own URL in a forwarded body or `Location` is rewritten to the proxy's,
as a reverse proxy does, so an upstream that hands out its address (Salesforce's
`instance_url`) keeps being reached through the proxy.

To put a gateway behind it, give the proxy's `url` as the vendor's base URL in Settings
(`square.base_url`, `shopify.base_url`, `salesforce.login_url`); `proxies_in_front_of(urls)`
runs one per vendor, each in its own thread, and `behind_proxies(settings, proxies)` points
a copy of the settings at them.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import os
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import h11
import httpx


class Fault(enum.Enum):
    PASS = "pass"
    HTTP_500 = "http_500"
    THROTTLE_429 = "throttle_429"
    MALFORMED_JSON = "malformed_json"
    WRONG_CONTENT_TYPE = "wrong_content_type"
    RESET = "reset"
    CLOSE = "close"
    TIMEOUT = "timeout"
    SLOW_DRIP = "slow_drip"
    TRUNCATED = "truncated"
    REFUSE = "refuse"


# What each reference vendor answers when it fails on its side (see DESIGN.md's contracts).
VENDOR_500: dict[str, Any] = {
    "square": {"errors": [{"category": "API_ERROR", "code": "INTERNAL_SERVER_ERROR"}]},
    "shopify": {
        "errors": [{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
    },
    "salesforce": [{"message": "An unexpected error occurred.", "errorCode": "UNKNOWN_EXCEPTION"}],
}

_SYNTHETIC = {Fault.HTTP_500, Fault.THROTTLE_429, Fault.MALFORMED_JSON, Fault.WRONG_CONTENT_TYPE}
_HOP_BY_HOP = {
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"content-length",
}  # fmt: skip
_MALFORMED = b'{"data": {"id": "1", "name": "Wool sock'
_HTML = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
_JSON = (b"content-type", b"application/json")
Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class _Plan:
    fault: Fault = Fault.PASS
    body: Any = None
    drip_interval: float = 0.5
    retry_after: int = 1
    delay: float = 0.0


class FaultProxy:
    def __init__(self, target: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = target.rstrip("/")
        self.host = host
        self.port = port  # 0 until started: then the free port chosen, kept across REFUSE
        self.connections = 0  # TCP connections accepted: shows keep-alive at work
        # each request's headers (names lower-cased) as read, oldest first
        self.headers_seen: list[dict[str, str]] = []
        self._plan = _Plan()
        self._remaining: int | None = None
        self._seen: Counter[Fault] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id: int | None = None
        self._listener: socket.socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # accepted sockets: a task cancelled before it first runs never closes its own
        self._accepted: set[socket.socket] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._client: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def fault(self) -> Fault:
        return self._plan.fault

    def seen(self, fault: Fault | None = None) -> int:
        """Requests read in full under `fault`, or under any mode when None."""
        counts = dict(self._seen)
        return sum(counts.values()) if fault is None else counts.get(fault, 0)

    def reset_counts(self) -> None:
        self._on_loop(self._seen.clear)
        self._on_loop(self.headers_seen.clear)

    def set(
        self,
        fault: Fault,
        *,
        times: int | None = None,
        body: Any = None,
        drip_interval: float = 0.5,
        retry_after: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Apply `fault` to the next `times` requests (then PASS), or until the next `set`.
        `delay`: seconds each of them waits, once read, before the fault applies (a slow
        upstream with PASS)."""
        if times is not None and (times < 1 or fault is Fault.REFUSE):
            raise ValueError("times must be >= 1, and REFUSE cannot count requests")
        plan = _Plan(fault, body, drip_interval, retry_after, delay)
        self._on_loop(lambda: self._apply(plan, times))

    async def start(self) -> FaultProxy:
        self._loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        self._client = httpx.AsyncClient(timeout=30, trust_env=False)
        self._listen()
        if self.fault is Fault.REFUSE:
            self._close_listener()
        return self

    async def stop(self) -> None:
        self._close_listener()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conn in self._accepted:
            conn.close()  # a no-op for those their transport closed already
        self._accepted.clear()
        if self._client is not None:
            await self._client.aclose()
        self._client = self._loop = self._thread_id = None

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def running_in_thread(self) -> Iterator[FaultProxy]:
        """For sync (e.g. session) fixtures: the proxy on its own loop in a daemon thread."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fault-proxy", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=10)
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    # -- on the proxy's loop ---------------------------------------------------------------

    def _on_loop(self, action: Callable[[], None]) -> None:
        if self._loop is None or threading.get_ident() == self._thread_id:
            action()
            return

        async def run() -> None:
            action()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def _apply(self, plan: _Plan, times: int | None) -> None:
        self._plan, self._remaining = plan, times
        if plan.fault is Fault.REFUSE:
            self._close_listener()
            for writer in list(self._writers):
                # shut down now, not at the loop's next turn: a pooled client connection must
                # look dead before the caller's next request. (On a dup: uvloop's transport
                # sockets have no shutdown().)
                fd = writer.get_extra_info("socket").fileno()
                with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
                    sock.shutdown(socket.SHUT_RDWR)
                writer.transport.abort()
        elif self._loop is not None and self._listener is None:
            self._listen()

    def _take(self) -> _Plan:
        plan = self._plan
        if self._remaining is not None:
            self._remaining -= 1
            if self._remaining == 0:
                self._plan, self._remaining = _Plan(), None
        self._seen[plan.fault] += 1
        return plan

    def _listen(self) -> None:
        # A plain socket with add_reader rather than asyncio.start_server: listening starts
        # and stops synchronously, so set(REFUSE) and back take effect before set() returns.
        assert self._loop is not None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._loop.add_reader(sock.fileno(), self._accept)

    def _close_listener(self) -> None:
        if self._listener is not None and self._loop is not None:
            self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None

    def _accept(self) -> None:
        assert self._listener is not None
        assert self._loop is not None
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # BlockingIOError: the backlog is empty
                return
            self.connections += 1
            self._accepted.add(conn)
            task = self._loop.create_task(self._serve(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_connection(sock=conn)
        except BaseException:
            conn.close()
            raise
        self._writers.add(writer)
        http = h11.Connection(h11.SERVER)
        try:
            while await self._exchange(http, reader, writer):
                http.start_next_cycle()
        except (OSError, h11.ProtocolError):
            pass  # the client left, or spoke broken HTTP: drop the connection
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self._accepted.discard(conn)

    async def _exchange(
        self, http: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """One request and its answer; False when the connection must end."""
        request, body = await _read_request(http, reader, writer)
        if request is None:
            return False
        self.headers_seen.append(
            {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in request.headers
            }
        )
        plan = self._take()
        if plan.delay:
            await asyncio.sleep(plan.delay)
        if plan.fault is Fault.RESET:
            linger = struct.pack("ii", 1, 0)
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            writer.transport.abort()
            return False
        if plan.fault is Fault.CLOSE:
            return False  # _serve closes the connection
        if plan.fault is Fault.TIMEOUT:
            while await reader.read(65536):
                pass
            return False
        if plan.fault in _SYNTHETIC:
            status, headers, content = _synthetic(plan)
        else:
            status, headers, content = await self._forward(request, body)
        if not any(name == b"content-length" for name, _ in headers):
            # an empty body cannot be cut in half: claim one byte that never comes
            declared = len(content) or int(plan.fault is Fault.TRUNCATED)
            headers.append((b"content-length", str(declared).encode()))
        writer.write(http.send(h11.Response(status_code=status, headers=headers)))
        if plan.fault is Fault.TRUNCATED:
            writer.write(http.send(h11.Data(data=content[: len(content) // 2])))
            await writer.drain()
            return False
        if plan.fault is Fault.SLOW_DRIP:
            for i in range(len(content)):
                await writer.drain()
                await asyncio.sleep(plan.drip_interval)
                writer.write(http.send(h11.Data(data=content[i : i + 1])))
        elif content:
            writer.write(http.send(h11.Data(data=content)))
        writer.write(http.send(h11.EndOfMessage()))
        await writer.drain()
        return http.our_state is h11.DONE and http.their_state is h11.DONE

    async def _forward(self, request: h11.Request, body: bytes) -> tuple[int, Headers, bytes]:
        assert self._client is not None
        # Host is kept, so whatever the target derives from it points back at the proxy.
        headers = [(name, value) for name, value in request.headers if name not in _HOP_BY_HOP]
        url = self.target + request.target.decode("ascii")
        upstream = httpx.Request(request.method.decode("ascii"), url, headers=headers, content=body)
        try:
            response = await self._client.send(upstream, stream=True)
            try:
                content = b"".join([chunk async for chunk in response.aiter_raw()])
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            error = {"error": f"fault proxy: target failed: {exc!r}"}
            return 502, [_JSON], json.dumps(error).encode()
        # HEAD, 204 and 304 carry no body: their Content-Length (if any) is the target's.
        bodiless = request.method == b"HEAD" or response.status_code in (204, 304)
        ours, theirs = self.url.encode(), self.target.encode()
        kept: Headers = []
        for name, value in response.headers.raw:
            lower = name.lower()
            if lower in _HOP_BY_HOP and not (bodiless and lower == b"content-length"):
                continue
            kept.append((name, value.replace(theirs, ours) if lower == b"location" else value))
        if "content-encoding" not in response.headers:
            content = content.replace(theirs, ours)
        return response.status_code, kept, content


async def _read_request(
    http: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[h11.Request | None, bytes]:
    """The next request in full (h11 undoes Content-Length or chunked framing); None at EOF."""
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = http.next_event()
        if event is h11.NEED_DATA:
            if http.they_are_waiting_for_100_continue:
                writer.write(http.send(h11.InformationalResponse(status_code=100, headers=[])))
            http.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return request, bytes(body)
        else:  # ConnectionClosed: the client is done with this connection
            return None, b""


def _synthetic(plan: _Plan) -> tuple[int, Headers, bytes]:
    if plan.fault is Fault.MALFORMED_JSON:
        return 200, [_JSON], _MALFORMED
    if plan.fault is Fault.WRONG_CONTENT_TYPE:
        return 200, [(b"content-type", b"text/html; charset=utf-8")], _HTML
    body = plan.body if plan.body is not None else {"error": f"fault proxy: {plan.fault.name}"}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    if plan.fault is Fault.THROTTLE_429:
        return 429, [_JSON, (b"retry-after", str(plan.retry_after).encode())], content
    return 500, [_JSON], content


@contextlib.contextmanager
def proxies_in_front_of(targets: dict[str, str]) -> Iterator[dict[str, FaultProxy]]:
    """A proxy per name (vendor) -> target URL, each on a loop and thread of its own, so a
    held or dripping connection costs the code under test nothing."""
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(FaultProxy(url).running_in_thread())
            for name, url in targets.items()
        }


# The Settings field holding each vendor's URL
URL_SETTING = {
    "square": "base_url",
    "shopify": "base_url",
    "salesforce": "login_url",
    "hubspot": "base_url",
}


def behind_proxies(settings: Any, proxies: dict[str, FaultProxy], **changes: Any) -> Any:
    """`settings` (a gateway Settings) with each vendor reached through its proxy, every
    proxy reset to PASS with its counts cleared, and `changes` applied."""
    for proxy in proxies.values():
        proxy.set(Fault.PASS)
        proxy.reset_counts()
    urls = {vendor: {URL_SETTING[vendor]: proxy.url} for vendor, proxy in proxies.items()}
    return settings.with_changes(**urls, **changes)
