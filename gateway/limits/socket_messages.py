"""Malformed websocket messages close the socket with 4400 and a reason, never by dropping it.

Strawberry's handlers index each message as the protocol says it is shaped: a message that
is a list, a number, or carries an `id` or `payload` of another type raised inside the
handler, and the socket dropped without a close frame. So each message's shape is checked
first (`transport_message_problem`, `legacy_message_problem`), and a message nested deeper
than `max_json_depth` closes the socket too (`GuardedWebSocketAdapter.iter_json`).
graphql-transport-ws closes with 4400 on a malformed message; the legacy graphql-ws has no
such code and Strawberry ignores what does not parse there, but its malformed messages get
the same 4400, as a dropped socket is no better for those clients.

Relies on Strawberry's websocket adapter (`strawberry.asgi.ASGIWebSocketAdapter`, the
view's `websocket_adapter_class`): `iter_json`, `send_json` and `close` are its abstract
interface, which every Strawberry integration implements. tests/test_hostile_bodies.py
goes through each.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping

from starlette.websockets import WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected

from gateway.limits.json_body import JsonTooDeep

MALFORMED_MESSAGE = 4400
# RFC 6455: a close frame's payload is at most 125 bytes, 2 of them the code. A longer
# reason (Strawberry's echo a client's message type or id) made the server drop the socket.
_MAX_REASON_BYTES = 123


class GuardedWebSocketAdapter(ASGIWebSocketAdapter):
    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        try:
            async for message in super().iter_json(ignore_parsing_errors=ignore_parsing_errors):
                yield message
        except JsonTooDeep as error:
            await self.close(MALFORMED_MESSAGE, str(error))

    async def send_json(self, message: Mapping[str, object]) -> None:
        # An operation still answering on a socket this side closed (a 4400 above, say) or
        # the client left: no one is left to read it, and the refusal to send would be
        # logged by Strawberry as the crash of a worker task. The receive loop sees the
        # disconnection and ends every operation of the socket.
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            return
        with contextlib.suppress(WebSocketDisconnected):
            await super().send_json(message)

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:  # closed once is enough
            await super().close(code, _truncated(reason))


def _truncated(reason: str) -> str:
    encoded = reason.encode()
    if len(encoded) <= _MAX_REASON_BYTES:
        return reason
    return encoded[: _MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


def transport_message_problem(message: object) -> str | None:
    """Why a graphql-transport-ws message is malformed, or None. Unknown types and missing
    keys are left to Strawberry, which closes 4400 for them itself."""
    if not isinstance(message, dict):
        return "A message must be a JSON object."
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message's `type` must be a string."
    if kind in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return f"A `{kind}` message's `id` must be a string."
    if kind == "subscribe":
        return _payload_problem(message.get("payload"))
    return None


def legacy_message_problem(message: object) -> str | None:
    """The same for graphql-ws (subscriptions-transport-ws): `start` and `stop`."""
    if not isinstance(message, dict):
        return "A message must be a JSON object."
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message's `type` must be a string."
    if kind in ("start", "stop") and not isinstance(message.get("id"), str):
        return f"A `{kind}` message's `id` must be a string."
    if kind == "start":
        return _payload_problem(message.get("payload"))
    return None


def _payload_problem(payload: object) -> str | None:
    # the same types GraphQL over HTTP accepts in a POST body (engine/view.py)
    if not isinstance(payload, dict):
        return "The operation's `payload` must be an object."
    for key, types in _PAYLOAD_TYPES.items():
        if not isinstance(payload.get(key), types):
            return f"The operation's `{key}` must be {_PAYLOAD_TYPE_NAMES[key]}."
    return None


_PAYLOAD_TYPES: dict[str, type | tuple[type, ...]] = {
    "query": (str, type(None)),  # none: a persisted query's hash in `extensions`
    "variables": (dict, type(None)),
    "extensions": (dict, type(None)),
    "operationName": (str, type(None)),
}
_PAYLOAD_TYPE_NAMES = {
    "query": "a string",
    "variables": "an object or null",
    "extensions": "an object or null",
    "operationName": "a string or null",
}
