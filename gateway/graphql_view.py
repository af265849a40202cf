"""The /graphql endpoint: Strawberry's ASGI view with our context and a self-hosted GraphiQL."""

from __future__ import annotations

from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.http import process_result as strawberry_process_result
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult

from gateway.context import Context
from gateway.errors import shape_errors

GRAPHIQL_PAGE = Path(__file__).parent / "graphiql" / "index.html"
# Everything GraphiQL loads comes from this origin, so the page runs behind a strict CSP.
# React and GraphiQL set inline style attributes, hence 'unsafe-inline' for styles only.
GRAPHIQL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class GatewayGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, *, graphiql: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self._graphiql_html = GRAPHIQL_PAGE.read_text() if graphiql else ""

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
