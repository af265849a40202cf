"""The one door every adapter uses to reach its upstream.

Adapters get an `UpstreamHttp` for their service from the gateway wiring: it wraps the
app-scoped `httpx.AsyncClient` (so the transport, pool and timeouts are chosen in one
place), turns transport failures into `connectors.errors`, and reports each call to an
observer (metrics) without the adapter knowing about metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import orjson

from connectors.errors import (
    UpstreamError,
    UpstreamRejected,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)

# (service, operation, HTTP status or None when no response arrived, seconds)
RequestObserver = Callable[[str, str, int | None, float], None]


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
    ) -> None:
        self.client = client
        self.service = service
        self.base_url = base_url.rstrip("/")
        self._observer = observer

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
    ) -> httpx.Response:
        """One upstream call; `operation` names it in metrics and errors."""
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        if json_body is not None:
            content = orjson.dumps(json_body)
            headers = {**(headers or {}), "content-type": "application/json"}
        started = time.perf_counter()
        status: int | None = None
        try:
            response = await self.client.request(
                method, url, params=params, headers=headers, content=content
            )
            status = response.status_code
            return response
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(self.service, operation, type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(self.service, operation, repr(exc)) from exc
        finally:
            self._observer(self.service, operation, status, time.perf_counter() - started)

    def status_error(self, operation: str, response: httpx.Response, detail: str) -> UpstreamError:
        """The error for a non-success status, once the adapter has read its vendor's envelope."""
        status = response.status_code
        if status == 429:
            return UpstreamThrottled(
                self.service, operation, detail, retry_after=retry_after_seconds(response)
            )
        if status >= 500:
            return UpstreamUnavailable(self.service, operation, f"HTTP {status}: {detail}")
        return UpstreamRejected(self.service, operation, f"HTTP {status}: {detail}")

    def json(self, operation: str, response: httpx.Response) -> Any:
        """The decoded body; a body that is not JSON is the upstream's failure, not ours."""
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamUnavailable(self.service, operation, "response is not JSON") from exc


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
