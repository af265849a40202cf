"""The /graphql endpoint: Strawberry's ASGI view with our context and a self-hosted GraphiQL.

GraphQL over HTTP (docs/graphql-over-http.md): answers come in the media type the request's
Accept negotiated (gateway/limits/accept.py runs first); in
`application/graphql-response+json` an answer refused before execution has no `data` and a
4xx status (engine/http_status.py); a mutation sent by GET is 405 with `Allow: POST`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http import process_result as strawberry_process_result
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from engine.context import Context
from engine.errors import shape_errors
from engine.http_status import execution_began, unexecuted_status
from gateway.auth import AuthRefusal, Credentials
from gateway.limits.http_refusal import Refusal, send_refusal
from gateway.limits.json_body import JSON_TOO_DEEP, JsonTooDeep, decode_json
from gateway.limits.media_types import (
    APPLICATION_JSON,
    CONTENT_TYPES,
    GRAPHQL_RESPONSE_JSON,
    media_type_of,
)
from gateway.limits.socket_admission import AdmittingTransportWSHandler, AdmittingWSHandler
from gateway.limits.socket_messages import GuardedWebSocketAdapter

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
SUBSCRIPTIONS_BY_SOCKET = (
    "Subscriptions are served over the websocket at /graphql (graphql-transport-ws), not over HTTP."
)
# where a websocket's scope keeps the task that closes it when its credentials expire
EXPIRY_TASK = "omnigate.credentials_expiry"
# graphql-transport-ws's close code for a refused connection_init; graphql-ws clients
# reconnect after it (it is not one of their fatal codes), asking for fresh credentials
WS_FORBIDDEN = 4403


class RefusedRequest(HTTPException):
    def __init__(
        self, status_code: int, code: str, reason: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code, reason)
        self.code = code
        self.headers = headers or {}


@dataclass(slots=True)
class SocketContext(Context):
    """A websocket's context: Strawberry puts the `connection_init` payload here, and the
    principal it proves is set by `on_ws_connect` for every operation of the connection."""

    connection_params: dict[str, Any] | None = None


class GatewayGraphQL(GraphQL[Context, None]):
    # the rate limit and persisted queries for each operation sent over a websocket
    graphql_transport_ws_handler_class = AdmittingTransportWSHandler
    graphql_ws_handler_class = AdmittingWSHandler
    # malformed and too deeply nested messages close the socket with 4400
    websocket_adapter_class = GuardedWebSocketAdapter

    def __init__(
        self,
        schema: BaseSchema,
        *,
        graphiql_page: str | None,
        socket_origins: Callable[[str], bool] | None = None,
        max_json_depth: int,
    ) -> None:
        """`graphiql_page`: the IDE's HTML (the runtime serves it and its assets), or None
        to serve no IDE. `socket_origins`: which other origins' pages may open a websocket
        (the CORS policy's); None refuses every cross-origin handshake. `max_json_depth`:
        the nesting allowed in bodies, GET parameters and websocket messages."""
        super().__init__(schema, graphql_ide="graphiql" if graphiql_page is not None else None)
        self._graphiql_html = graphiql_page or ""
        self._socket_origins = socket_origins
        self._max_json_depth = max_json_depth

    def is_websocket_origin_allowed(self, request: WebSocket, origin: str) -> bool:
        # asked only for a cross-origin handshake; same-origin and non-browser ones pass
        return self._socket_origins is not None and self._socket_origins(origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            try:
                await super().__call__(scope, receive, send)
            finally:
                if (expiry := scope.get(EXPIRY_TASK)) is not None:
                    expiry.cancel()
            return
        try:
            response = await self.run(Request(scope, receive))
        except AuthRefusal as refusal:
            # before any operation ran: 401 for credentials that prove nothing (as Apollo
            # Router's JWT authentication answers), 503 when they cannot be checked
            body = {"errors": [{"message": refusal.message, "extensions": refusal.extensions}]}
            await Response(
                orjson.dumps(body),
                status_code=refusal.status,
                headers=refusal.headers,
                media_type=CONTENT_TYPES[media_type_of(scope)],
            )(scope, receive, send)
            return
        except Refusal as refusal:
            # rate limit, persisted queries (gateway/limits/admission.py): nothing ran
            await send_refusal(
                scope, send, refusal.status, refusal.code, refusal.message, refusal.headers
            )
            return
        except HTTPException as error:
            # GraphQL-shaped, with a code, where Strawberry answers plain text
            code = getattr(error, "code", None) or HTTP_ERROR_CODES.get(
                error.status_code, "BAD_REQUEST"
            )
            headers = getattr(error, "headers", None)
            await send_refusal(scope, send, error.status_code, code, error.reason, headers)
            return
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # a GET with only `extensions` is an APQ request by hash, not a page load (asked
        # second: the query parameters are parsed only for a GET that could be one)
        return super().should_render_graphql_ide(request) and (
            "extensions" not in request.query_params
        )

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        # The rate limit and persisted queries, once the principal is known and before the
        # document is parsed: what runs below is the resolved document, so the parser,
        # validation and limit caches apply to it. Batches were refused while parsing.
        assert isinstance(request_data, GraphQLRequestData)
        admission = context.services.admission
        admitted = await admission.admit(request, context.principal, request_data)
        result = await super().execute_operation(
            request=request,
            request_adapter=request_adapter,
            request_data=admitted.data,
            context=context,
            root_value=root_value,
            sub_response=sub_response,
        )
        await admission.settle(admitted, result)
        return result

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Strawberry's, but for the operation types: it lets subscriptions through GET and
        # POST for its multipart protocol, which is not served here, so one would start
        # executing and fail inside as an internal error. Subscriptions take the websocket.
        method = request_adapter.method
        allowed = OperationType.from_http(method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request") from error
        except InvalidOperationTypeError as error:
            if error.operation_type == OperationType.SUBSCRIPTION:
                raise RefusedRequest(400, "BAD_REQUEST", SUBSCRIPTIONS_BY_SOCKET) from error
            # GraphQL over HTTP: a mutation by GET is the wrong method, not a bad request
            reason = error.as_http_error_reason(method)
            raise RefusedRequest(405, "METHOD_NOT_ALLOWED", reason, {"Allow": "POST"}) from error

    def decode_json(self, data: str | bytes) -> object:
        # every JSON a client sends comes here: POST bodies, GET parameters, websocket
        # messages (gateway/limits/json_body.py says why orjson, and the depth bound)
        return decode_json(data, self._max_json_depth)

    def parse_json(self, data: str | bytes) -> Any:
        """A POST body (bytes, as Starlette reads it), or GET's `variables` or
        `extensions` (str)."""
        try:
            value = self.decode_json(data)
        except JsonTooDeep as error:
            raise RefusedRequest(400, JSON_TOO_DEEP, str(error)) from error
        except json.JSONDecodeError as error:
            # orjson says where and what: not UTF-8, a lone surrogate, a number too large
            reason = f"Unable to parse request body as JSON: {error}"
            raise RefusedRequest(400, "BAD_REQUEST", reason) from error
        if isinstance(data, bytes) and not isinstance(value, dict | list):
            # Strawberry reads the body's fields with .get: a string, a number or null
            # there was a 500 (a list is a batch, refused as one)
            raise RefusedRequest(400, "BAD_REQUEST", "The request body must be a JSON object.")
        return value

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        # Strawberry checks `query`, `variables` and `extensions`, not this one
        if isinstance(data, GraphQLRequestData) and not isinstance(data.operation_name, str | None):
            raise RefusedRequest(
                400,
                "BAD_REQUEST",
                "The GraphQL operation's `operationName` must be a string or null, if provided.",
            )
        return data

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
        services = request.app.state.services
        if isinstance(request, WebSocket):
            return SocketContext(services, request, response)  # on_ws_connect authenticates
        credentials = Credentials.from_raw_headers(request.scope["headers"])
        return Context(services, request, response, await services.auth.principal(credentials))

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params if isinstance(context, SocketContext) else None
        credentials = Credentials.from_connection_params(params or {}, context.request.headers)
        try:
            context.principal = await context.services.auth.principal(credentials)
        except AuthRefusal as refusal:
            # graphql-transport-ws has no error message before the ack: the socket closes 4403
            raise ConnectionRejectionError(refusal.extensions) from refusal
        expires_at = context.principal.expires_at
        if expires_at is not None and isinstance(context.response, WebSocket):
            context.request.scope[EXPIRY_TASK] = asyncio.create_task(
                _close_at(context.response, expires_at)
            )
        unset: UnsetType = UNSET
        return unset

    def encode_json(self, data: object) -> str:
        # str, not bytes: the websocket transport sends bytes as binary frames, which
        # graphql-transport-ws clients do not read
        return orjson.dumps(data).decode()

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = shape_errors(result.errors)
        response = strawberry_process_result(result)
        if media_type_of(request.scope) == GRAPHQL_RESPONSE_JSON and not execution_began(result):
            # the spec's sign that nothing ran; application/json keeps `data: null`, as
            # its clients have always read it
            del response["data"]
        return response

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # create_response sees only this: it carries the negotiated type there
        sub_response.media_type = media_type_of(request.scope)
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        # Strawberry's, but the body encoded once, as bytes (its `encode_json` answers str
        # for the websocket), and the negotiated type given when the response is made
        media_type = sub_response.media_type or APPLICATION_JSON
        response = Response(orjson.dumps(response_data), media_type=CONTENT_TYPES[media_type])
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        if (
            media_type == GRAPHQL_RESPONSE_JSON
            and not sub_response.status_code
            and isinstance(response_data, dict)
            and "data" not in response_data
        ):
            response.status_code = unexecuted_status(response_data.get("errors") or [])
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self._graphiql_html, headers={"Content-Security-Policy": GRAPHIQL_CSP})


async def _close_at(websocket: WebSocket, expires_at: float) -> None:
    """A subscription outlives no token: the socket closes when its credentials expire."""
    await asyncio.sleep(max(0.0, expires_at - time.time()))
    with contextlib.suppress(RuntimeError, OSError):  # the client closed it meanwhile
        await websocket.close(WS_FORBIDDEN, "Credentials expired")
