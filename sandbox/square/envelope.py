"""Square's request envelope: bearer auth, `Square-Version`, JSON bodies and error responses.

Every Square endpoint answers failures the same way, `{"errors": [{category, code, detail,
field}]}` with the HTTP status of the first error, and every response carries the
`Square-Version` it was served with. Handlers raise `SquareApiError`; `square_endpoint` turns
it into that envelope so no handler formats an error itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# The newest Square API version when this simulator was written (SDK releases of 2026-09-16).
DEFAULT_SQUARE_VERSION = "2026-09-16"
_VERSION_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SquareApiError(Exception):
    """One Square error; raised by handlers, rendered by `square_endpoint`."""

    def __init__(
        self,
        status: int,
        category: str,
        code: str,
        detail: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.category = category
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers or {}

    def as_error(self) -> dict[str, str]:
        error = {"category": self.category, "code": self.code, "detail": self.detail}
        if self.field is not None:
            error["field"] = self.field
        return error


def invalid_request(code: str, detail: str, field: str | None = None) -> SquareApiError:
    return SquareApiError(400, "INVALID_REQUEST_ERROR", code, detail, field)


def unauthorized(detail: str) -> SquareApiError:
    return SquareApiError(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", detail)


class RateLimitPolicy(Protocol):
    """Where a throttle plugs in: seconds to wait before retrying, or None to serve the call."""

    def retry_after(self, request: Request) -> float | None: ...


class NoRateLimit:
    """The default: the simulator never throttles unless a test or benchmark asks it to."""

    def retry_after(self, request: Request) -> float | None:
        return None


@dataclass(frozen=True, slots=True)
class Gate:
    """What every endpoint checks before its handler runs."""

    access_token: str
    rate_limit: RateLimitPolicy


Handler = Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]


def square_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler `(request, body) -> payload` in Square's auth, version and error envelope."""

    async def endpoint(request: Request) -> Response:
        version = request.headers.get("square-version", DEFAULT_SQUARE_VERSION)
        try:
            gate: Gate = request.app.state.square_gate
            _authenticate(request, gate.access_token)
            if not _VERSION_FORMAT.match(version):
                raise invalid_request(
                    "INVALID_SQUARE_VERSION_FORMAT",
                    f"Square-Version `{version}` is not of the form YYYY-MM-DD.",
                )
            wait = gate.rate_limit.retry_after(request)
            if wait is not None:
                raise SquareApiError(
                    429,
                    "RATE_LIMIT_ERROR",
                    "RATE_LIMITED",
                    "Rate limit exceeded; retry later.",
                    headers={"Retry-After": str(max(0, round(wait)))},
                )
            body = await _json_body(request)
            payload = await handler(request, body)
        except SquareApiError as error:
            return JSONResponse(
                {"errors": [error.as_error()]},
                status_code=error.status,
                headers={"Square-Version": version, **error.headers},
            )
        return JSONResponse(payload, headers={"Square-Version": version})

    return endpoint


def _authenticate(request: Request, access_token: str) -> None:
    header = request.headers.get("authorization")
    if header is None:
        raise unauthorized("This request could not be authorized.")
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token:
        raise unauthorized(
            "The `Authorization` http header of your request was malformed. The header value "
            'is expected to be of the format "Bearer TOKEN" (without quotation marks), where '
            "TOKEN is to be replaced with your access token."
        )
    if token != access_token:
        raise unauthorized("This request could not be authorized.")


async def _json_body(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        return {}
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise invalid_request("EXPECTED_JSON_BODY", "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise invalid_request("EXPECTED_OBJECT", "The request body must be a JSON object.")
    return body
