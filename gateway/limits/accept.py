"""Accept negotiation on /graphql: a request that accepts none of the media types offered
(gateway/limits/media_types.py) is answered 406 before anything else happens, as GraphQL
over HTTP recommends over ignoring the header; any other leaves the chosen type in the
scope, where the view and every refusal read it."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.limits.csrf import names_an_operation
from gateway.limits.http_refusal import send_refusal
from gateway.limits.media_types import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, SCOPE_KEY, negotiate

NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
MESSAGE = (
    f"The Accept header accepts no media type /graphql answers: send {GRAPHQL_RESPONSE_JSON}"
    f" or {APPLICATION_JSON} (or no Accept header)."
)


class AcceptNegotiation:
    """Outermost on /graphql: refuses 406 what it cannot answer, so nothing else runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            media_type = negotiate(_header(scope, b"accept"))
            if media_type is None and not _loads_a_page(scope):
                await send_refusal(scope, send, 406, NOT_ACCEPTABLE, MESSAGE)
                return
            scope[SCOPE_KEY] = media_type or APPLICATION_JSON
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    values = [value.decode("latin-1") for key, value in scope["headers"] if key == name]
    return ", ".join(values) if values else None


def _loads_a_page(scope: Scope) -> bool:
    # a GET naming no operation runs nothing: GraphiQL's page (text/html), or a 404/400
    # the view answers itself
    return scope["method"] == "GET" and not names_an_operation(scope["query_string"])
