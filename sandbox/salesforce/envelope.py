"""Salesforce's REST envelope: bearer sessions, API versions, limits and the error array.

Every REST resource answers a failure as a JSON array `[{"message", "errorCode", "fields"?}]`
with the HTTP status of the failure. Handlers raise `SalesforceApiError`; `rest_endpoint`
renders it, so no handler formats an error itself. The OAuth endpoint is not REST and has
its own `{error, error_description}` shape (sandbox.salesforce.oauth).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from sandbox.salesforce.sessions import SessionStore

# Summer '26, the newest generally available release in the REST API guide's version list.
LATEST_API_VERSION = 67
# The oldest version the REST API still serves (Summer '14); older ones were retired.
OLDEST_API_VERSION = 31
# "In each REST call, the maximum length for the combined URI and headers is 16,384 bytes...
# If the URI itself exceeds this limit, the request returns a 414 URI Too Long error."
MAX_URI_BYTES = 16_384
_VERSION = re.compile(r"^v(\d+)\.0$")


class SalesforceApiError(Exception):
    """One Salesforce REST error; raised by handlers, rendered by `rest_endpoint`."""

    def __init__(
        self, status: int, error_code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def as_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            error["fields"] = self.fields
        return error


def not_found() -> SalesforceApiError:
    return SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> SalesforceApiError:
    return SalesforceApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


class ApiLimit(Protocol):
    """Where a throttle plugs in: True when the org's API request allocation is used up."""

    def exceeded(self, request: Request) -> bool: ...


class NoApiLimit:
    """The default: the simulator never runs out of API requests unless a test asks it to."""

    def exceeded(self, request: Request) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Gate:
    """What every REST resource checks before its handler runs."""

    sessions: SessionStore
    api_limit: ApiLimit


# (request, API version as "vNN.0") -> JSON payload
Handler = Callable[[Request, str], Awaitable[Any]]


def rest_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler in Salesforce's URI limit, version, session, limit and error envelope."""

    async def endpoint(request: Request) -> Response:
        uri = request.url.path + ("?" + request.url.query if request.url.query else "")
        if len(uri.encode()) > MAX_URI_BYTES:
            # Salesforce's front end answers this itself, in HTML, before the API sees it.
            return PlainTextResponse("Bad Message 414\nreason: URI Too Long", status_code=414)
        try:
            version = _version(request.path_params.get("version", ""))
            gate: Gate = request.app.state.salesforce_gate
            _authenticate(request, gate.sessions)
            if gate.api_limit.exceeded(request):
                raise SalesforceApiError(
                    403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."
                )
            payload = await handler(request, version)
        except SalesforceApiError as error:
            return JSONResponse([error.as_error()], status_code=error.status)
        # a write answers its own status (201 created, 204 updated); a read, its JSON
        return payload if isinstance(payload, Response) else JSONResponse(payload)

    return endpoint


def _version(segment: str) -> str:
    match = _VERSION.match(segment)
    if match is None or not OLDEST_API_VERSION <= int(match[1]) <= LATEST_API_VERSION:
        raise not_found()
    return segment


def _authenticate(request: Request, sessions: SessionStore) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    # Salesforce accepts the older "OAuth" scheme as well as "Bearer".
    if scheme not in ("Bearer", "OAuth") or not sessions.touch(token.strip()):
        raise invalid_session()
