"""The /graphql endpoint: Strawberry's ASGI view with our context and a self-hosted GraphiQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.http import process_result as strawberry_process_result
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult

from gateway.context import Context
from gateway.errors import shape_errors
from gateway.limits.http_refusal import send_refusal

GRAPHIQL_PAGE = Path(__file__).parent / "graphiql" / "index.html"
# Everything GraphiQL loads comes from this origin, so the page runs behind a strict CSP.
# React and GraphiQL set inline style attributes, hence 'unsafe-inline' for styles only.
GRAPHIQL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# Codes for the refusals Strawberry raises as HTTP errors before any operation runs
HTTP_ERROR_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
BATCHING_NOT_ENABLED = "BATCHING_NOT_ENABLED"


class RefusedRequest(HTTPException):
    def __init__(self, status_code: int, code: str, reason: str) -> None:
        super().__init__(status_code, reason)
        self.code = code


class GatewayGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, *, graphiql: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self._graphiql_html = GRAPHIQL_PAGE.read_text() if graphiql else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as error:
            # GraphQL-shaped, with a code, where Strawberry answers plain text
            code = getattr(error, "code", None) or HTTP_ERROR_CODES.get(
                error.status_code, "BAD_REQUEST"
            )
            await send_refusal(send, error.status_code, code, error.reason)
            return
        await response(scope, receive, send)

    def _validate_batch_request(self, request_data: Any, protocol: Any) -> None:
        # Batching stays off (no batching_config): one operation per request keeps every
        # limit per request, not per operation.
        raise RefusedRequest(
            400,
            BATCHING_NOT_ENABLED,
            "Batched operations (a JSON array) are not accepted: send one operation per request.",
        )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        # services live on the app (built in the lifespan); loaders are made fresh here
        return Context(request.app.state.services, request, response)

    def encode_json(self, data: object) -> str:
        # str, not bytes: the websocket transport sends bytes as binary frames, which
        # graphql-transport-ws clients do not read
        return orjson.dumps(data).decode()

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = shape_errors(result.errors)
        return strawberry_process_result(result)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self._graphiql_html, headers={"Content-Security-Policy": GRAPHIQL_CSP})
