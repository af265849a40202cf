"""The same admission for operations sent over a websocket: each `subscribe` (graphql-ws's
`start`) passes the rate limit and persisted queries, so a safelisted kiosk cannot run an
unregistered subscription over the socket, and a hash-only `extensions.persistedQuery`
works there too. A refusal is the protocol's `error` message for that operation; the
connection stays open. APQ does not register over a websocket (nothing there validates the
document before it streams): register over HTTP first, as Apollo clients do.

A malformed message closes the socket with 4400 before anything else
(gateway/limits/socket_messages.py)."""

from __future__ import annotations

from typing import Any, cast

from graphql import GraphQLFormattedError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage,
    Message,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as LegacyErrorMessage
from strawberry.subscriptions.protocols.graphql_ws.types import OperationMessage, StartMessage

from engine.context import Context
from gateway.limits.http_refusal import Refusal
from gateway.limits.socket_messages import (
    MALFORMED_MESSAGE,
    legacy_message_problem,
    transport_message_problem,
)

NO_QUERY = "The operation has no `query`, and `extensions` name no persisted query."


async def _admitted_query(context: Context, payload: dict[str, Any]) -> str | None:
    """The document to run. Raises Refusal."""
    data = GraphQLRequestData(
        query=payload.get("query"),
        variables=payload.get("variables"),
        operation_name=payload.get("operationName"),
        extensions=payload.get("extensions"),
    )
    admitted = await context.services.admission.admit(context.request, context.principal, data)
    return admitted.data.query


def _formatted(refusal: Refusal) -> GraphQLFormattedError:
    return {"message": refusal.message, "extensions": {"code": refusal.code}}


class AdmittingTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def handle_message(self, message: Message) -> None:
        if (problem := transport_message_problem(message)) is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    def forget_id(self, id: str) -> None:
        # Strawberry's raises KeyError when the socket closed under a finishing operation
        # (its shutdown forgot the operation first), logged as a worker task's crash
        self.operations.pop(id, None)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and message["id"] not in self.operations:
            payload = cast("dict[str, Any]", message["payload"])
            try:
                query = await _admitted_query(self.context, payload)
            except Refusal as refusal:
                error = ErrorMessage(id=message["id"], type="error", payload=[_formatted(refusal)])
                await self.send_message(error)
                return
            if not query:  # none, or empty: Strawberry's MissingQueryError, masked
                await self.handle_invalid_message(NO_QUERY)
                return
            message = cast("SubscribeMessage", {**message, "payload": {**payload, "query": query}})
        await super().handle_subscribe(message)


class AdmittingWSHandler(BaseGraphQLWSHandler[Context, None]):
    async def handle_message(self, message: OperationMessage) -> None:
        if (problem := legacy_message_problem(message)) is not None:
            await self.websocket.close(MALFORMED_MESSAGE, problem)
            return
        await super().handle_message(message)

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged:
            payload = cast("dict[str, Any]", message["payload"])
            try:
                query = await _admitted_query(self.context, payload)
            except Refusal as refusal:
                await self.send_message(
                    LegacyErrorMessage(type="error", id=message["id"], payload=_formatted(refusal))
                )
                return
            if not query:  # none, or empty: Strawberry's MissingQueryError, masked
                await self.websocket.close(MALFORMED_MESSAGE, NO_QUERY)
                return
            message = cast("StartMessage", {**message, "payload": {**payload, "query": query}})
        await super().handle_start(message)
