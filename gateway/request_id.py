"""One id per request: in the response, in every log record, on every upstream call.

An incoming `X-Request-Id` (from the ingress, or a client correlating its own logs) is
kept when it is short and made of safe characters; anything else is replaced by a fresh
id rather than trusted into log lines and upstream headers. The id lives in a context
variable for the request's lifetime, so tasks the request starts (DataLoader batches)
carry it too. A websocket gets one for its whole connection.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_HEADER_BYTES = HEADER.encode("ascii")
MAX_LENGTH = 128
# UUIDs, hex, base64url, and the dotted/colon-separated forms proxies emit (AWS's
# `Root=1-…`, Heroku's, Envoy's): nothing that could break a log line or a header.
_SAFE = re.compile(rf"[A-Za-z0-9._:=+/@-]{{1,{MAX_LENGTH}}}")

current_request_id: ContextVar[str | None] = ContextVar("omnigate_request_id", default=None)


def new_request_id() -> str:
    return os.urandom(16).hex()


def accepted_request_id(value: bytes | None) -> str | None:
    """The caller's id if it is acceptable, else None."""
    if value is None or len(value) > MAX_LENGTH:
        return None
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if _SAFE.fullmatch(text) else None


def _from_headers(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == _HEADER_BYTES:
            return accepted_request_id(value) or new_request_id()
    return new_request_id()


class RequestId:
    """ASGI middleware: sets `current_request_id` and answers it in `X-Request-Id`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _from_headers(scope)
        token = current_request_id.set(request_id)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
                return
            header = (_HEADER_BYTES, request_id.encode("ascii"))

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
