"""The identity provider app: OIDC discovery, the JWKS, dev tokens and key rotation.

GET  /.well-known/openid-configuration   OIDC discovery (issuer, jwks_uri, token endpoint)
GET  /.well-known/jwks.json              the public signing keys, current and retired
POST /dev/token                          test tokens (sandbox.identity.tokens)
POST /_sandbox/rotate                    sign with a new key; the old one stays published.
                                         Optional JSON body {"algorithm": "ES256"}. Not counted.

The issuer is the app's public URL, so a gateway pointed at it finds everything by discovery.
"""

from __future__ import annotations

import json
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.calls import CONTROL_PREFIX, counted_app
from sandbox.dataset import Dataset
from sandbox.identity.keys import DEFAULT_RETENTION_SECONDS, SUPPORTED_ALGORITHMS, Clock, KeyRing
from sandbox.identity.tokens import Issuer, dev_token

# The gateway's default AuthSettings expect this audience (gateway/settings.py).
SANDBOX_AUDIENCE = "omnigate"
JWKS_PATH = "/.well-known/jwks.json"
TOKEN_PATH = "/dev/token"


def create_app(
    dataset: Dataset,
    *,
    public_url: str,
    audience: str = SANDBOX_AUDIENCE,
    algorithm: str = "RS256",
    retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    clock: Clock = time.time,
) -> Starlette:
    """The IdP; `public_url` is its issuer (`iss`) and the base of the URLs discovery names."""
    issuer_url = public_url.rstrip("/")
    keys = KeyRing(algorithm, retention_seconds=retention_seconds, clock=clock)
    routes: list[BaseRoute] = [
        Route("/.well-known/openid-configuration", _discovery, methods=["GET"]),
        Route(JWKS_PATH, _jwks, methods=["GET"]),
        Route(TOKEN_PATH, dev_token, methods=["POST"]),
        Route(CONTROL_PREFIX + "rotate", _rotate, methods=["POST"]),
    ]
    return counted_app(
        routes,
        identity_keys=keys,
        identity_issuer=Issuer.for_dataset(
            dataset, issuer=issuer_url, audience=audience, keys=keys, clock=clock
        ),
        public_url=issuer_url,
    )


async def _discovery(request: Request) -> Response:
    issuer: Issuer = request.app.state.identity_issuer
    return JSONResponse(
        {
            "issuer": issuer.issuer,
            "jwks_uri": issuer.issuer + JWKS_PATH,
            "token_endpoint": issuer.issuer + TOKEN_PATH,
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(SUPPORTED_ALGORITHMS),
            "claims_supported": ["iss", "aud", "sub", "exp", "iat", "jti", "role", "store_id"],
        }
    )


async def _jwks(request: Request) -> Response:
    keys: KeyRing = request.app.state.identity_keys
    return JSONResponse(keys.jwks(), headers={"Cache-Control": "public, max-age=300"})


async def _rotate(request: Request) -> Response:
    keys: KeyRing = request.app.state.identity_keys
    raw = await request.body()
    try:
        algorithm = json.loads(raw).get("algorithm") if raw else None
        key = keys.rotate(algorithm)
    except (ValueError, AttributeError) as exc:
        return JSONResponse({"error": "invalid_request", "error_description": str(exc)}, 400)
    return JSONResponse({"kid": key.kid, "alg": key.algorithm})
