"""Authenticated REST calls to the org: session retry, Salesforce's error array, query paging,
and writes (POST, PATCH) for the sObjects the adapter creates and updates.

Salesforce answers failures as `[{"message", "errorCode", "fields"?}]`; the codes and messages
go into `UpstreamError.detail` for logs only. Its throttle signal is not 429 but 403 with
REQUEST_LIMIT_EXCEEDED (the org's rolling 24-hour API allocation is used up).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.errors import UpstreamError, UpstreamThrottled, UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.salesforce.session import ClientCredentialsSession, Session
from connectors.salesforce.settings import SalesforceSettings

_DETAIL_LIMIT = 500
_SESSION_REJECTED: Any = object()  # the org refused the session: renew it and ask again


@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    path: str
    params: Mapping[str, str] | None
    body: dict[str, Any] | None  # None: a read, answered as its JSON alone
    idempotent: bool


class SalesforceRest:
    def __init__(self, http: UpstreamHttp, settings: SalesforceSettings) -> None:
        self.http = http
        self._session = ClientCredentialsSession(http, settings)
        self._data = f"/services/data/{settings.api_version}"

    def resource(self, path: str) -> str:
        """The instance-relative path of a versioned resource, e.g. `query`."""
        return f"{self._data}/{path}"

    async def get(
        self,
        operation: str,
        path: str,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """GET an instance-relative path; a session the org rejects is renewed once."""
        return await self._call(operation, _Call("GET", path, params, None, idempotent=True))

    async def write(
        self, operation: str, method: str, path: str, body: Mapping[str, Any], *, idempotent: bool
    ) -> tuple[int, Any]:
        """POST or PATCH a JSON body: the answer's status and its JSON (None for 204).

        A session the org rejects is renewed and the write sent once more even when it is
        not idempotent: INVALID_SESSION_ID is answered before the org does anything.
        `idempotent=True` (an upsert by external id, a PATCH of fields) also lets the
        resilience policy resend it after a failure in flight."""
        answer: tuple[int, Any] = await self._call(
            operation, _Call(method, path, None, dict(body), idempotent=idempotent)
        )
        return answer

    async def _call(self, operation: str, call: _Call) -> Any:
        session = await self._session.current()
        payload = await self._send(operation, session, call, renewable=True)
        if payload is _SESSION_REJECTED:
            session = await self._session.renew(session)
            payload = await self._send(operation, session, call, renewable=False)
        return payload

    async def query(self, operation: str, soql: str) -> list[dict[str, Any]]:
        """Every record of a SOQL query, following `nextRecordsUrl` until `done`."""
        page = await self.get(operation, self.resource("query"), {"q": soql})
        records: list[dict[str, Any]] = []
        seen: set[str] = set()
        while True:
            if not isinstance(page, dict) or not isinstance(page.get("records"), list):
                raise UpstreamUnavailable(self.http.service, operation, "not a query result")
            records.extend(page["records"])
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not isinstance(next_url, str):
                return records
            if next_url in seen:
                # A locator handed out twice would loop forever; Salesforce's never repeat.
                raise UpstreamUnavailable(self.http.service, operation, "nextRecordsUrl repeated")
            seen.add(next_url)
            page = await self.get(operation, next_url)

    async def _send(self, operation: str, session: Session, call: _Call, *, renewable: bool) -> Any:
        """The decoded answer (a write's: with its status), or _SESSION_REJECTED when
        `renewable` and the org refused the session."""

        def read(response: httpx.Response) -> Any:
            if renewable and _session_rejected(response):
                return _SESSION_REJECTED
            if not response.is_success:
                raise self._error(operation, response)
            if call.body is None:
                return self.http.json(operation, response)
            if response.status_code == 204 or not response.content:
                return response.status_code, None
            return response.status_code, self.http.json(operation, response)

        return await self.http.send(
            operation,
            call.method,
            session.instance_url + call.path,
            params=call.params,
            json_body=call.body,
            headers={
                "Authorization": f"Bearer {session.access_token}",
                "Accept": "application/json",
            },
            idempotent=call.idempotent,
            read=read,
        )

    def _error(self, operation: str, response: httpx.Response) -> UpstreamError:
        codes, detail = describe_errors(response)
        if response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in codes:
            # No Retry-After, and no retry: the allocation is a rolling 24-hour window, so
            # a retry within this request would only be refused again.
            return UpstreamThrottled(
                self.http.service, operation, f"HTTP 403: {detail}", retryable=False
            )
        return self.http.status_error(operation, response, detail)


def _session_rejected(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    codes, _ = describe_errors(response)
    return "INVALID_SESSION_ID" in codes


def describe_errors(response: httpx.Response) -> tuple[set[str], str]:
    """The error codes of a failed response and the errors as one log line."""
    try:
        errors = json.loads(response.content)
        codes = {str(e["errorCode"]) for e in errors}
        line = "; ".join(f"{e['errorCode']}: {e.get('message', '')}" for e in errors)
    except (ValueError, KeyError, TypeError):
        return set(), "response is not a Salesforce error array"
    return codes, " ".join(line.split())[:_DETAIL_LIMIT]
