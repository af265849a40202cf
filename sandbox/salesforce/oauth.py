"""The OAuth 2.0 token endpoint, client credentials flow only.

POST /services/oauth2/token, form-encoded `grant_type=client_credentials&client_id&client_secret`.
Success is `{access_token, signature, scope, instance_url, id, token_type, issued_at}` where
`issued_at` is milliseconds since the epoch and `signature` is base64 HMAC-SHA256 of `id` +
`issued_at` keyed with the client secret. Failures are `{error, error_description}`, 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.salesforce.sessions import SessionStore


@dataclass(frozen=True, slots=True)
class ConnectedApp:
    """The external client app the gateway authenticates as, and the org that answers it."""

    client_id: str
    client_secret: str
    org_id: str
    run_as_user_id: str
    public_url: str


def _refuse(error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=400)


async def token(request: Request) -> Response:
    app: ConnectedApp = request.app.state.salesforce_connected_app
    sessions: SessionStore = request.app.state.salesforce_gate.sessions
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return _refuse("unsupported_grant_type", "grant type not supported")
    form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
    if form.get("grant_type") != "client_credentials":
        return _refuse("unsupported_grant_type", "grant type not supported")
    if form.get("client_id") != app.client_id:
        return _refuse("invalid_client_id", "client identifier invalid")
    if not hmac.compare_digest(form.get("client_secret", ""), app.client_secret):
        return _refuse("invalid_client", "invalid client credentials")
    identity_url = f"{app.public_url}/id/{app.org_id}/{app.run_as_user_id}"
    issued_at = str(int(sessions.clock().timestamp() * 1000))
    digest = hmac.new(
        app.client_secret.encode(), (identity_url + issued_at).encode(), hashlib.sha256
    ).digest()
    return JSONResponse(
        {
            "access_token": sessions.issue(),
            "signature": base64.b64encode(digest).decode(),
            "scope": "api",
            "instance_url": app.public_url,
            "id": identity_url,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
    )
