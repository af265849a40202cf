"""The one door every adapter uses to reach its upstream.

Adapters get an `UpstreamHttp` for their service from the gateway wiring: it wraps the
app-scoped `httpx.AsyncClient` (so the transport and pool are chosen in one place), applies
the service's `UpstreamPolicy` (deadline, concurrency limit, circuit breaker, retries:
connectors/resilience, docs/resilience.md), turns transport failures into
`connectors.errors`, and reports each attempt to an observer (metrics) without the adapter
knowing about metrics.

An adapter says two things per call: whether it may be sent twice (`idempotent`), and,
through `read`, what the answer means. A reader runs inside each attempt, so a failure it
raises (a vendor's throttle signal in a 200, a body that does not parse) is retried and
seen by the breaker exactly like a 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, TypeVar, overload

import httpx
import orjson

from connectors.errors import (
    UpstreamError,
    UpstreamRejected,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.resilience import UNGUARDED, UpstreamPolicy

T = TypeVar("T")

# Each request's extensions name the call, (service, operation), for what sits under the
# client: the gateway's transport names its trace spans after them.
UPSTREAM_CALL = "omnigate.upstream_call"
# (service, operation, HTTP status or None when no response arrived, seconds); per attempt
RequestObserver = Callable[[str, str, int | None, float], None]
# What an answer means: the value the adapter wants, or an UpstreamError raised
ResponseReader = Callable[[httpx.Response], T]


def _ignore(service: str, operation: str, status: int | None, seconds: float) -> None:
    """Default observer: adapters used outside the gateway (tests, scripts) report nowhere."""


class UpstreamHttp:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        service: str,
        base_url: str,
        observer: RequestObserver = _ignore,
        policy: UpstreamPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Without a `policy` (contract tests, scripts) each call is one attempt, bounded by
        the request deadline if one is set and by the client's own timeouts.

        `transport`, the one under `client`: calls go to it directly, with the client's
        headers, and skip the client's per-call work (URL merging and parsing, cookies,
        auth and redirect handling), which cost about a tenth of the gateway's CPU on a
        product page (bench/README.md). The gateway passes it; tests that mock the client
        leave it out."""
        self.client = client
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.policy = policy or UpstreamPolicy(service, UNGUARDED)
        self._observer = observer
        self._transport = transport
        # what the client would add to each call, as it stands now (UpstreamClient's are
        # httpx's defaults, never changed): (lower-cased name, name, value), encoded once
        self._client_headers = [
            (name.decode("ascii").lower(), name, value) for name, value in client.headers.raw
        ]

    @overload
    async def send(
        self,
        operation: str,
        method: str,
        path_or_url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        idempotent: bool = False,
        read: None = None,
    ) -> httpx.Response: ...

    @overload
    async def send(
        self,
        operation: str,
        method: str,
        path_or_url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        idempotent: bool = False,
        read: ResponseReader[T],
    ) -> T: ...

    async def send(
        self,
        operation: str,
        method: str,
        path_or_url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        idempotent: bool = False,
        read: ResponseReader[Any] | None = None,
    ) -> Any:
        """One upstream call; `operation` names it in metrics and errors.

        `idempotent=True` lets the policy send it again after a retryable failure: pass it
        for reads (whatever their method) and for writes that carry the vendor's
        idempotency key, never otherwise. A connection that could not be made is retried
        either way (nothing was sent).

        With `read`, returns what the reader makes of the answer. Without, returns the
        response whatever its status, as before; a 5xx or 429 is still retried (when
        allowed) and counted by the breaker, and the last one is returned.
        """
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        if json_body is not None:
            content = orjson.dumps(json_body)
            headers = {**(headers or {}), "content-type": "application/json"}
        status_check: _StatusCheck | None = None
        reader: ResponseReader[Any]
        if read is None:
            status_check = _StatusCheck(self, operation)
            reader = status_check.read
        else:
            reader = read
        connect_timeout = self.policy.settings.connect_timeout_seconds
        call = {UPSTREAM_CALL: (self.service, operation)}

        async def attempt(seconds: float) -> Any:
            timeout = httpx.Timeout(seconds, connect=min(seconds, connect_timeout))
            started = time.perf_counter()
            status: int | None = None
            try:
                if self._transport is None:
                    response = await self.client.request(
                        method,
                        url,
                        params=params,
                        headers=headers,
                        content=content,
                        timeout=timeout,
                        extensions=call,
                    )
                else:
                    extensions = {**call, "timeout": timeout.as_dict()}
                    request = self._request(method, url, params, headers, content, extensions)
                    response = await self._send_direct(self._transport, request)
                status = response.status_code
            except httpx.ConnectError as exc:
                raise UpstreamUnavailable(self.service, operation, repr(exc), sent=False) from exc
            except httpx.LocalProtocolError as exc:
                # our request would not be read as written (a CR or LF in a header value):
                # the transport refused it unsent; sent again it would be refused again
                raise UpstreamRejected(self.service, operation, str(exc), sent=False) from exc
            except httpx.TimeoutException as exc:
                raise UpstreamTimeout(self.service, operation, type(exc).__name__) from exc
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(self.service, operation, repr(exc)) from exc
            finally:
                self._observer(self.service, operation, status, time.perf_counter() - started)
            return reader(response)

        try:
            return await self.policy.run(operation, attempt, idempotent=idempotent)
        except UpstreamError as error:
            if status_check is not None and status_check.failed is error:
                return status_check.response
            raise

    async def _send_direct(
        self, transport: httpx.AsyncBaseTransport, request: httpx.Request
    ) -> httpx.Response:
        """What `client.request` answers for `request`: the body read whole."""
        response = await transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    def _request(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        content: bytes | None,
        extensions: dict[str, Any],
    ) -> httpx.Request:
        """The request `httpx.Request(method, url, params=, headers=, content=)` makes, with
        the headers it would add (Host, Content-Length) written here as bytes, in its order:
        given a `stream`, httpx leaves them to us and skips a second pass over them, which
        halves the cost of building a request (about 20 -> 8 us, timed alone)."""
        method = method.upper()
        if params is None:
            target, host = _parsed_url(url)
        else:
            target = httpx.URL(url, params=params)
            host = target.netloc
        overridden = {name.lower() for name in headers} if headers else set()
        raw: list[tuple[bytes, bytes]] = []
        if "host" not in overridden:
            raw.append((b"Host", host))
        if (
            content is None
            and method in ("POST", "PUT", "PATCH")
            and not overridden & {"content-length", "transfer-encoding"}
        ):
            raw.append((b"Content-Length", b"0"))
        raw.extend(
            (name, value) for lower, name, value in self._client_headers if lower not in overridden
        )
        if headers:
            for name, value in headers.items():
                try:
                    raw.append((name.encode("ascii"), value.encode("ascii")))
                except UnicodeEncodeError as exc:  # httpx raises it too: a refusal, not a bug
                    raise httpx.LocalProtocolError(
                        f"the header {name!r} is not ASCII; nothing was sent"
                    ) from exc
        if content is not None and "content-length" not in overridden:
            raw.append((b"Content-Length", str(len(content)).encode("ascii")))
        request = httpx.Request(
            method,
            target,
            headers=raw,
            stream=httpx.ByteStream(content or b""),
            extensions=extensions,
        )
        request.read()  # in memory already: what `content=` would have done
        return request

    def status_error(self, operation: str, response: httpx.Response, detail: str) -> UpstreamError:
        """The error for a non-success status, once the adapter has read its vendor's envelope."""
        status = response.status_code
        error: UpstreamError
        if status == 429:
            error = UpstreamThrottled(
                self.service, operation, detail, retry_after=retry_after_seconds(response)
            )
        elif status >= 500:
            error = UpstreamUnavailable(self.service, operation, f"HTTP {status}: {detail}")
        else:
            error = UpstreamRejected(self.service, operation, f"HTTP {status}: {detail}")
        error.status = status
        return error

    def json(self, operation: str, response: httpx.Response) -> Any:
        """The decoded body; a body that is not JSON is the upstream's failure, not ours."""
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamUnavailable(self.service, operation, "response is not JSON") from exc


class _StatusCheck:
    """The reader of a call made without one: a 5xx or 429 fails the attempt (so it can be
    retried and the breaker hears of it), and the last such response goes back to the
    caller, who reads the vendor's envelope for the logs as it always did."""

    def __init__(self, http: UpstreamHttp, operation: str) -> None:
        self._http = http
        self._operation = operation
        self.failed: UpstreamError | None = None
        self.response: httpx.Response | None = None

    def read(self, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status >= 500 or status == 429:
            self.failed = self._http.status_error(self._operation, response, "body not read")
            self.response = response
            raise self.failed
        return response


@lru_cache(maxsize=1024)
def _parsed_url(url: str) -> tuple[httpx.URL, bytes]:
    """The URL and its Host header. Parsing a URL is most of the cost of building a
    request, and calls repeat a few URLs (the query string, where it varies, comes as
    `params`)."""
    parsed = httpx.URL(url)
    return parsed, parsed.netloc


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds: delay-seconds, or an HTTP-date (RFC 9110 10.2.3)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
