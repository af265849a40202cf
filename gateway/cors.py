"""CORS on /graphql: which pages on other origins a browser lets call the gateway
(docs/graphql-over-http.md "CORS"), and open websockets to it.

Starlette's CORSMiddleware answers preflights and marks the answers of allowed origins;
a page on any other origin gets no `Access-Control-Allow-Origin`, so its browser refuses
the preflight and never sends the request. The same origins may open a subscription
socket: the view's origin check (Strawberry refuses cross-origin handshakes by default)
asks `OriginPolicy.allows`. Only /graphql is covered: /metrics, the probes and the webhooks
are no business of a browser page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from gateway.settings import Settings

# GraphQL over HTTP's two methods; a preflight asking for another is refused
METHODS = ("GET", "POST")


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    origins: frozenset[str]
    pattern: re.Pattern[str] | None

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins

    def allows(self, origin: str) -> bool:
        if self.any_origin or origin in self.origins:
            return True
        return self.pattern is not None and self.pattern.fullmatch(origin) is not None


def origin_policy(settings: Settings) -> OriginPolicy | None:
    """The origins allowed in this deployment, or None when CORS is off."""
    origins, pattern = settings.cors.origins_for(settings.env)
    if not origins and pattern is None:
        return None
    return OriginPolicy(frozenset(origins), re.compile(pattern) if pattern else None)


def describe(settings: Settings) -> str:
    """One line for `omnigate check-config`: the default depends on the environment."""
    policy = origin_policy(settings)
    if policy is None:
        return "off (no origin allowed)"
    allowed = sorted(policy.origins) + ([f"/{policy.pattern.pattern}/"] if policy.pattern else [])
    credentials = "with" if settings.cors.allow_credentials else "without"
    return f"{', '.join(allowed)} ({credentials} credentials)"


def with_cors(app: ASGIApp, settings: Settings, policy: OriginPolicy) -> ASGIApp:
    cors = settings.cors
    return CORSMiddleware(
        app,
        allow_origins=sorted(policy.origins),
        allow_origin_regex=policy.pattern.pattern if policy.pattern else None,
        allow_methods=METHODS,
        allow_headers=cors.allow_headers,
        allow_credentials=cors.allow_credentials,
        expose_headers=cors.expose_headers,
        max_age=cors.max_age_seconds,
    )
