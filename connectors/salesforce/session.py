"""The OAuth 2.0 client credentials session every Salesforce call rides on.

One access token per adapter, fetched on first use and shared: callers that arrive while it is
being fetched wait for that one request instead of starting their own. When the org answers
INVALID_SESSION_ID (the session timed out or was revoked) one caller renews it and the others
pick the renewed token up, so a burst of rejected calls costs one token request, not N.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from connectors.errors import UpstreamUnavailable
from connectors.http import UpstreamHttp
from connectors.salesforce.settings import SalesforceSettings

TOKEN_OPERATION = "salesforce.token"
TOKEN_PATH = "/services/oauth2/token"


@dataclass(frozen=True, slots=True)
class Session:
    access_token: str
    instance_url: str  # where data calls go; the org's, not the login host


class ClientCredentialsSession:
    def __init__(self, http: UpstreamHttp, settings: SalesforceSettings) -> None:
        self._http = http
        self._form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": settings.client_id,
                "client_secret": settings.client_secret.get_secret_value(),
            }
        ).encode()
        self._current: Session | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> Session:
        session = self._current
        if session is not None:
            return session
        async with self._lock:
            if self._current is None:
                self._current = await self._fetch()
            return self._current

    async def renew(self, rejected: Session) -> Session:
        """A session other than `rejected`, fetching one only if nobody has done so already."""
        async with self._lock:
            if self._current is None or self._current is rejected:
                self._current = None  # a failed fetch must not leave the dead token in place
                self._current = await self._fetch()
            return self._current

    async def _fetch(self) -> Session:
        # A POST, but safe to send again: a client credentials grant creates nothing the
        # org keeps per request (a lost answer costs one more token, nothing else).
        return await self._http.send(
            TOKEN_OPERATION,
            "POST",
            TOKEN_PATH,
            content=self._form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            idempotent=True,
            read=self._session_from,
        )

    def _session_from(self, response: httpx.Response) -> Session:
        if not response.is_success:
            raise self._http.status_error(TOKEN_OPERATION, response, _oauth_error(response.content))
        payload = self._http.json(TOKEN_OPERATION, response)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        instance = payload.get("instance_url") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not isinstance(instance, str) or "://" not in instance:
            raise UpstreamUnavailable(
                self._http.service, TOKEN_OPERATION, "token response lacks a token or instance"
            )
        return Session(token, instance.rstrip("/"))


def _oauth_error(body: bytes) -> str:
    """The OAuth failure (`{error, error_description}`) as one log line."""
    try:
        payload = json.loads(body)
        return f"{payload['error']}: {payload.get('error_description', '')}"[:500]
    except (ValueError, KeyError, TypeError):
        return "response is not an OAuth error"
