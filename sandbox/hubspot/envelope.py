"""HubSpot's API envelope: the private app's bearer token, the rate limits and the error
object.

Every failure is `{"status": "error", "message", "correlationId", "category"}` with the
HTTP status; a 429 is `{"status": "error", "message", "errorType": "RATE_LIMIT",
"correlationId", "policyName"}` naming the limit hit (TEN_SECONDLY_ROLLING, SECONDLY,
DAILY), with `Retry-After` when the test that scripted it asked for one. With a
`TenSecondly` window the simulator also limits as HubSpot does a private app: at most
`limit` requests in any ten seconds, each answer saying what is left
(`X-HubSpot-RateLimit-Max`, `-Remaining`, `-Interval-Milliseconds`), past it a 429 whose
`Retry-After` is when the oldest request leaves the window. Handlers raise
`HubSpotApiError`; `api_endpoint` renders it.
"""

from __future__ import annotations

import hmac
import json
import math
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class HubSpotApiError(Exception):
    def __init__(self, status: int, category: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        # the ErrorDetail list HubSpot adds to a validation error (which property, why)
        self.errors: list[dict[str, Any]] = []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


def validation_error(message: str) -> HubSpotApiError:
    return HubSpotApiError(400, "VALIDATION_ERROR", message)


@dataclass(frozen=True, slots=True)
class ScriptedLimit:
    """One 429 a test asked for: the policy named and the Retry-After sent (if any)."""

    policy_name: str
    retry_after: str | None


class TenSecondly:
    """HubSpot's TEN_SECONDLY_ROLLING limit: `limit` requests in any 10 seconds."""

    WINDOW = 10.0

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._admitted: deque[float] = deque()

    def admit(self) -> float | None:
        """None when the request may go (it is counted), else the seconds until it may."""
        now = self._clock()
        while self._admitted and self._admitted[0] <= now - self.WINDOW:
            self._admitted.popleft()
        if len(self._admitted) >= self.limit:
            return self._admitted[0] + self.WINDOW - now
        self._admitted.append(now)
        return None

    def headers(self) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.WINDOW * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.limit - len(self._admitted))),
        }


@dataclass(slots=True)
class Gate:
    """What every API call passes first: the token, then any scripted 429s, in order, then
    the ten-second window if there is one."""

    access_token: str
    limits: deque[ScriptedLimit] = field(default_factory=deque)
    ten_secondly: TenSecondly | None = None


Handler = Callable[[Request, Any], Awaitable[tuple[int, Any]]]


def api_endpoint(
    handler: Handler, *, takes_body: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a JSON-bodied handler in the token check, the rate limit and the envelope; the
    handler gets the decoded body (`{}` where the call `takes_body=False`: GET, the v4
    association PUT) and answers (status, payload)."""

    async def endpoint(request: Request) -> Response:
        gate: Gate = request.app.state.hubspot_gate
        try:
            _authenticate(request, gate)
            if gate.limits:
                return _rate_limited(gate.limits.popleft())
            headers: dict[str, str] = {}
            if gate.ten_secondly is not None:
                wait = gate.ten_secondly.admit()
                if wait is not None:
                    retry_after = str(max(1, math.ceil(wait)))
                    return _rate_limited(ScriptedLimit("TEN_SECONDLY_ROLLING", retry_after))
                headers = gate.ten_secondly.headers()
            body = await _body(request) if takes_body else {}
            status, payload = await handler(request, body)
        except HubSpotApiError as error:
            return JSONResponse(error.body(), status_code=error.status)
        return JSONResponse(payload, status_code=status, headers=headers)

    return endpoint


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise validation_error("Invalid input JSON on line 1") from None
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    return body


def _authenticate(request: Request, gate: Gate) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), gate.access_token.encode()
    ):
        raise HubSpotApiError(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 "
            "authentication and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )


def _rate_limited(limit: ScriptedLimit) -> Response:
    headers = {} if limit.retry_after is None else {"Retry-After": limit.retry_after}
    return JSONResponse(
        {
            "status": "error",
            "message": f"You have reached your {limit.policy_name.lower()} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": limit.policy_name,
            "requestId": str(uuid.uuid4()),
        },
        status_code=429,
        headers=headers,
    )
