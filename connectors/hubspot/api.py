"""Authenticated calls to HubSpot's CRM API v3: the bearer token, the error envelope and the
rate-limit answers.

Every failure is answered as `{"status": "error", "message", "correlationId", "category",
...}`; category, message and correlation id go into `UpstreamError.detail` for the logs (the
correlation id is what HubSpot's support asks for). A 429 also names the limit hit in
`policyName`: the rolling ten-second and per-second limits (`TEN_SECONDLY_ROLLING`,
`SECONDLY`) pass within seconds, so the call is retried after `Retry-After` (or the
policy's backoff when HubSpot sends none) within the call's deadline and retry budget; the
`DAILY` limit lasts until midnight in the account's time zone, so it is never retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from connectors.errors import UpstreamError, UpstreamThrottled
from connectors.http import UpstreamHttp, retry_after_seconds
from connectors.hubspot.settings import HubSpotSettings

_DETAIL_LIMIT = 500
# The 429 policies that last longer than any request: retrying within it cannot help.
UNRETRYABLE_POLICIES = frozenset({"DAILY"})


class HubSpotApi:
    def __init__(self, http: UpstreamHttp, settings: HubSpotSettings) -> None:
        self.http = http
        self._headers = {
            "Authorization": f"Bearer {settings.access_token.get_secret_value()}",
            "Accept": "application/json",
        }

    async def post(
        self,
        operation: str,
        path: str,
        body: Mapping[str, Any],
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """POST a read (search, batch read) and answer the decoded body. A batch read's 207
        (some ids unknown) is a success like 200; every other failure raises."""
        # POST, but a read: sending it again changes nothing in the account.
        return await self.call(operation, "POST", path, body, params, idempotent=True)

    async def call(
        self,
        operation: str,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        *,
        idempotent: bool,
    ) -> Any:
        """One call; the decoded body of a success (None for an empty one, as a 204's).
        `idempotent`: whether sending it again is harmless (UpstreamHttp.send)."""

        def read(response: httpx.Response) -> Any:
            if not response.is_success:
                raise self._error(operation, response)
            if not response.content:
                return None
            return self.http.json(operation, response)

        return await self.http.send(
            operation,
            method,
            path,
            json_body=body,
            params=params,
            headers=self._headers,
            idempotent=idempotent,
            read=read,
        )

    def _error(self, operation: str, response: httpx.Response) -> UpstreamError:
        envelope = error_envelope(response.content)
        detail = describe(envelope)
        if response.status_code == 429:
            policy = str(envelope.get("policyName", ""))
            throttled = UpstreamThrottled(
                self.http.service,
                operation,
                f"HTTP 429 {policy or 'no policyName'}: {detail}",
                retry_after=retry_after_seconds(response),
                retryable=policy not in UNRETRYABLE_POLICIES,
            )
            throttled.status = 429
            return throttled
        return self.http.status_error(operation, response, detail)


def error_envelope(body: bytes) -> dict[str, Any]:
    """HubSpot's error object, or {} when the body is not one (a proxy's HTML page)."""
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return envelope if isinstance(envelope, dict) else {}


def describe(envelope: Mapping[str, Any]) -> str:
    """The error as one log line: category (or errorType), message, correlation id."""
    if not envelope:
        return "response is not a HubSpot error object"
    kind = envelope.get("category") or envelope.get("errorType") or "ERROR"
    line = f"{kind}: {envelope.get('message', '')} (correlationId {envelope.get('correlationId')})"
    return " ".join(line.split())[:_DETAIL_LIMIT]
